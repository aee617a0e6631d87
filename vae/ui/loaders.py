"""Cached loading of models and datasets (their encoded latents and projections: vae.ui.latents).

Models and datasets are `st.cache_resource` (one shared object per process: treat as read-only), models keyed
by the checkpoint's identity (a hash of its config and weights bytes), never by object.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
import torch

from vae.checkpoint import (CONFIG_FILE, METRICS_FILE, WEIGHTS_FILE, CheckpointError, checkpoint_zip_bytes,
                            files_zip_bytes, load_checkpoint_files, read_checkpoint_folder, read_checkpoint_zip)
from vae.dataset_names import is_idx_dataset
from vae.model import VAE

from vae.ui.bundled import ASSETS_DIR, REPO  # noqa: F401 - REPO re-exported; tests patch loaders.ASSETS_DIR
DATASET_KWARGS = ("seed", "image_size", "n_train", "n_test")   # load_dataset options a checkpoint may record


# ---------------------------------------------------------------------------------------------- models

@dataclass(frozen=True)
class LoadedModel:
    """A model ready to explore. `model` is shared between sessions: never train or modify it."""

    model: VAE                      # eval mode, on the chosen device; or a vae.models.ProtocolVAE (same names)
    id: str                         # identity: sha256 of config.json + model.safetensors (or job id + version)
    label: str                      # what the sidebar shows
    source: str                     # "bundled" | "trained" | "upload" | "gallery" | "outside" (file.py:fn) | "onnx" (upload)
    path: Path | None = None        # checkpoint folder, when there is one
    files: tuple[tuple[str, bytes], ...] | None = None   # raw files of an upload
    ref: str | None = None          # how a link names it, where it can travel: "gallery:<id>"

    @property
    def latent_dim(self) -> int:
        return self.model.config.latent_dim

    @property
    def device(self) -> torch.device:
        return self.model.device

    def zip_bytes(self) -> bytes:
        """The checkpoint as a zip (config.json, model.safetensors, metrics.jsonl at its root); for an outside
        or ONNX model, its files (weights or .onnx files, and vae.json)."""
        if self.source in ("outside", "onnx"):
            import io
            import zipfile

            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for name, data in self.files or ():
                    zf.writestr(name, data)
            return buf.getvalue()
        if self.path is not None and (self.path / CONFIG_FILE).exists():
            return checkpoint_zip_bytes(self.path)
        return files_zip_bytes(dict(self.files or ()))


def files_digest(files: dict[str, bytes]) -> str:
    """Identity of a checkpoint: sha256 over its config and weights bytes (16 hex digits)."""
    h = hashlib.sha256()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        h.update(name.encode())
        h.update(files.get(name, b""))
    return h.hexdigest()[:16]


def _model_from_files(digest: str, device: str, _files: dict[str, bytes], where: str) -> VAE:
    """The model of these checkpoint files on `device`, from a process-wide LRU bounded by memory."""
    from vae.ui.model_cache import MODELS

    def build() -> VAE:
        model = load_checkpoint_files(_files, where)
        model.to(torch.device(device))
        model.eval()
        model.requires_grad_(False)
        return model

    return MODELS.get_or_build((digest, device), build)


def bundled_models() -> dict[str, Path]:
    """Checkpoint folders under assets/ (those holding a config.json), by folder name."""
    if not ASSETS_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(ASSETS_DIR.iterdir()) if (p / CONFIG_FILE).is_file()}


@st.cache_data(max_entries=8, show_spinner=False)
def _read_folder(path: str, mtime_ns: int) -> dict[str, bytes]:
    return read_checkpoint_folder(Path(path))


def load_folder(path: Path, device: str, source: str = "bundled", label: str | None = None) -> LoadedModel:
    """A checkpoint folder as a LoadedModel (cached by content). Raises CheckpointError."""
    path = Path(path)
    cfg = path / CONFIG_FILE
    if not cfg.is_file():
        raise CheckpointError(f"{path} holds no {CONFIG_FILE}")
    weights = path / WEIGHTS_FILE
    mtime = max(cfg.stat().st_mtime_ns, weights.stat().st_mtime_ns if weights.exists() else 0)
    files = _read_folder(str(path), mtime)
    digest = files_digest(files)
    model = _model_from_files(digest, device, files, path.name)     # messages name the folder, not the server path
    return LoadedModel(model, digest, label or path.name, source, path=path)


PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin")   # torch.save / pickle files: refused, with a why


def load_uploaded(uploads: list[tuple[str, bytes]], device: str) -> LoadedModel:
    """Uploaded files (a checkpoint zip, or config.json + model.safetensors) as a LoadedModel.

    Raises CheckpointError naming the file and the problem; nothing is unpickled.
    """
    if not uploads:
        raise CheckpointError("no file uploaded")
    names = [n for n, _ in uploads]
    if len(uploads) == 1 and names[0].lower().endswith(".zip"):
        files = read_checkpoint_zip(uploads[0][1], where=names[0])
        where = names[0]
    else:
        files = {}
        for name, data in uploads:
            base = Path(name).name
            if base not in (CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE):
                pickled = Path(base).suffix.lower() in PICKLE_SUFFIXES
                raise CheckpointError(f"{name}: not part of a checkpoint"
                                      + ("; a PyTorch/pickle file is never opened here (unpickling runs code): "
                                         "save its weights with safetensors" if pickled else "")
                                      + f"; upload a checkpoint zip, or {CONFIG_FILE} and {WEIGHTS_FILE} together")
            files[base] = data
        where = "upload"
    digest = files_digest(files)
    model = _model_from_files(digest, device, files, where)
    label = names[0] if len(names) == 1 else f"upload {digest[:8]}"
    return LoadedModel(model, digest, label, "upload", files=tuple(files.items()))


@st.cache_resource(max_entries=8, show_spinner=False)
def _trained_model(job_key: str, version: int, device: str, _job) -> VAE | None:
    model = _job.latest_model()
    if model is None:
        return None
    if torch.device(device).type != "cpu":   # the job keeps its CPU copy; move a copy of it
        model = copy.deepcopy(model).to(torch.device(device))
    model.eval()
    model.requires_grad_(False)
    return model


def load_trained(job_key: str, job, device: str) -> LoadedModel | None:
    """The latest model of a TrainingJob (cached per job and version), or None before its first epoch."""
    snap = job.snapshot()
    version = int(getattr(snap, "version", 0) or 0)
    ckpt = getattr(snap, "checkpoint_path", None)
    if version <= 0 and not ckpt:
        return None
    model = _trained_model(job_key, version, device, job)
    if model is None:
        return None
    label = f"trained in this session (epoch {getattr(snap, 'epoch', '?')})"
    return LoadedModel(model, f"job-{job_key}-v{version}", label, "trained",
                       path=Path(ckpt) if ckpt else None)


# ---------------------------------------------------------------------------------------------- datasets

@dataclass(frozen=True)
class DatasetSpec:
    """How to load a dataset: a name from vae.data.DATASET_NAMES or "folder:<path>", and options."""

    name: str
    data_dir: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> str:
        return json.dumps([self.name, self.data_dir, list(self.options)], default=str)

    @property
    def label(self) -> str:
        return self.name


def spec_from_checkpoint(model: VAE) -> DatasetSpec | None:
    """The dataset a checkpoint was trained on, from its dataset record (or its train config)."""
    info = getattr(model, "checkpoint_info", None) or {}
    record = info.get("dataset") or {}
    train = info.get("train") or {}
    name = record.get("name") or train.get("dataset")
    from vae.data import DATASET_NAMES

    if not name or name not in DATASET_NAMES:      # never a "folder:<server path>" named by a checkpoint
        return None
    options: dict[str, Any] = {}
    for source in (train.get("extra") or {}, record.get("kwargs") or {}, record.get("options") or {}, record):
        for k in DATASET_KWARGS:
            if k in source and source[k] is not None:
                options[k] = source[k]
    if name == "digits":
        options.pop("image_size", None)
    data_dir = record.get("data_dir") or (record.get("kwargs") or {}).get("data_dir") or train.get("data_dir")
    if data_dir:      # a folder a checkpoint names is used only where the user could have typed it
        from vae.ui.hosting import PathRefused, check_server_path

        try:
            data_dir = str(check_server_path(data_dir))
        except PathRefused:
            data_dir = None
    # a folder recorded as a relative path means "relative to wherever it was trained" (the bundled
    # models name a development folder): not used; then the cache or the bundled test split serve
    if is_idx_dataset(name) and data_dir and not (Path(data_dir).is_absolute() and Path(data_dir).is_dir()):
        data_dir = None
    data_dir = data_dir or default_data_dir(name)     # the server's own copy, never a browser's path
    return DatasetSpec(name, data_dir, tuple(sorted(options.items())))


def default_data_dir(name: str) -> str | None:
    """The server's own copy of `name`'s IDX files: `$VAE_DATA_DIR/<name>/` when that folder exists.

    Set by whoever starts the server (a lab's copy of MNIST on a machine without internet, say), so it
    serves in hosted mode too, where no browser may name a folder. Otherwise None: the download cache,
    or MNIST's bundled test split, serve instead (the app reads no development folder such as ../shared).
    """
    root = os.environ.get("VAE_DATA_DIR", "").strip()
    if not root or not is_idx_dataset(name):
        return None
    folder = Path(root).expanduser() / name
    return str(folder.resolve()) if folder.is_dir() else None


@st.cache_resource(max_entries=6, show_spinner=False)
def _dataset(key: str, download: bool, _spec: DatasetSpec, _progress=None):
    from vae.data import DataError, has_bundled_test_split, load_dataset, load_image_folder

    opts = dict(_spec.options)
    if _spec.name.startswith("folder:"):
        return load_image_folder(_spec.name.split(":", 1)[1], **opts)
    try:
        return load_dataset(_spec.name, data_dir=_spec.data_dir, download=download, progress=_progress, **opts)
    except DataError:
        if download or _spec.data_dir is not None or not has_bundled_test_split(_spec.name):
            raise
    # not downloaded and no folder: the bundled test split alone (ds.test_only; never trained on)
    return load_dataset(_spec.name, test_only=True, download=False, **opts)


def download_with_progress(spec: DatasetSpec):
    """Download `spec`'s data set with a progress bar on the page (MiB done of total); the ImageDataset,
    or None with the reason shown."""
    bar = st.progress(0.0, text=f"Downloading {spec.name} ...")

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / total) if total else 0.0,
                     text=f"Downloading {spec.name}: {done / 2**20:.1f} of {total / 2**20:.1f} MiB")
    try:
        return load_dataset_cached(spec, progress=progress)
    except Exception as e:  # noqa: BLE001 - DataError, a cut connection, a full disk: shown on the page
        st.error(f"Could not download {spec.name}: {e}")
        return None
    finally:
        bar.empty()


def load_dataset_cached(spec: DatasetSpec, progress=None):
    """The ImageDataset for `spec` (shared, read-only). Raises vae.data.DataError.

    `progress(done, total)` is given to downloads; without it nothing is downloaded, and MNIST
    without a folder or a complete download cache is its bundled test split (`ds.test_only`).
    After a download, cached test-only data sets are dropped so the full one is loaded next.
    """
    if progress is None:
        return _dataset(spec.key, False, spec)
    ds = _dataset(spec.key, True, spec, progress)
    _dataset.clear()
    return ds


SHAPES_SIZES = (100_000, 737_280, 1_000_000)   # bigger generated shapes sets the sidebar offers (737,280: dSprites)
SHAPES_LINKED = "_vae_url_shapes_n"   # session key: a shared link's "Shapes to draw" (int), taken by the sidebar


@st.cache_resource(show_spinner=False)
def _big_shapes() -> dict:
    """{spec key: ImageDataset}: the one big generated shapes set this server holds (1 GB per million)."""
    return {}


def shapes_with_progress(spec: DatasetSpec):
    """A big generated shapes data set, drawn with a progress bar on the page (1,000,000 images take a few
    minutes), then kept for every session (one such set at a time). Raises DataError.

    Not through _dataset: a cached function may not update a bar created outside it."""
    from vae.data import load_dataset

    store = _big_shapes()
    if spec.key in store:
        return store[spec.key]
    bar = st.progress(0.0, text="Drawing shapes ...")

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / total), text=f"Drawing shapes: {done:,} of {total:,}")
    try:
        ds = load_dataset(spec.name, progress=progress, **dict(spec.options))
    finally:
        bar.empty()
    store.clear()
    store[spec.key] = ds
    return ds


def dataset_fits(model: VAE, dataset) -> str | None:
    """None when `dataset`'s images fit `model`, else a message saying how they differ."""
    if tuple(dataset.image_shape) != tuple(model.config.image_shape):
        return (f"dataset {dataset.name} has images of shape {tuple(dataset.image_shape)} but the model takes "
                f"{tuple(model.config.image_shape)}")
    return None


def split_choices(ds) -> tuple[list[str], str | None]:
    """The splits a page may offer for `ds` (those that hold images) and, when the training split is not
    loaded, the help that says how to get it. Shared by the Latent map and the Likelihood page."""
    if len(ds.train):
        return ["test", "train"], None
    return ["test"], ("only the bundled test split is loaded; to use the training split, download it on the "
                      "Train page or name a folder holding its files there")
