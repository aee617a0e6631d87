"""Checkpoints: a folder holding `config.json`, `model.safetensors` and `metrics.jsonl`.

    config.json        {"format_version": 1, "model": ModelConfig dict, "train": TrainConfig dict | null,
                        "state": {"epoch": int, "step": int, ...}, "dataset": {...} | null}
    model.safetensors  the model's tensors, names and shapes exactly those of `VAE(ModelConfig)`
    metrics.jsonl      one JSON object per finished epoch (epoch, train_loss, test_loss, recon, kl, ...)
    optimizer.safetensors + the "optimizer" entry of config.json   (optional, for resuming)
    trainer_state.safetensors   (optional, for resuming) tensors the Trainer owns beside the model, e.g.
                       FactorVAE's discriminator and its Adam state; their JSON rides in "state"

A folder is written next to its destination and swapped into place (vae.safeio.atomic_dir), so a reader
sees the old checkpoint or the new one, never half of one, whatever instant a writer dies. A save
never deletes anything that is not a checkpoint, and replaces a checkpoint only when asked to.
Loading never unpickles: tensors come from safetensors only. Before anything is allocated, the
config's size (layers, parameters: vae.config) and the safetensors header (names, shapes, dtypes,
byte ranges: vae.safeio.tensorfile) are checked; zips are inflated with hard caps (vae.safeio.safezip); then
every value must be finite and decoding a few prior points must give finite numbers.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as save_safetensors_bytes

from vae.safeio.atomic_dir import clean_stale, fsync_dir, make_temp_dir, recover, swap_in
from vae.safeio.durable import write_durably
from .checkpoint_format import (CONFIG_FILE, FORMAT_VERSION, MAX_CHECKPOINT_BYTES, MAX_CONFIG_BYTES,  # noqa: F401
                                MAX_METRICS_BYTES, MAX_ZIP_ENTRIES, MAX_ZIP_RATIO, METRICS_FILE, OPTIMIZER_FILE,
                                RESUME_ONLY_FILES, TRAINER_STATE_FILE, WEIGHTS_FILE, _FILE_LIMITS, CheckpointError, CheckpointExistsError,
                                _looks_like_checkpoint, _model_config, _parse_config, _parse_metrics,
                                _parse_weights, build_model)
from .config import TrainConfig
from .model import VAE, expected_shapes
from vae.safeio.safefile import read_regular_file
from vae.safeio.safezip import ZipRefused, open_zip, read_member

# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------

def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into flat tensors (for safetensors) and JSON-able rest."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[k] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def destination_status(path: str | Path) -> str:
    """What saving to `path` would replace, for a UI to ask first:

        "absent"      nothing there (or an empty folder): save_model writes freely
        "checkpoint"  a checkpoint of this project: save_model replaces it only with overwrite=True
        "other"       a file, a link, or a folder holding anything else: save_model refuses, always

    A swap into `path` that a killed process left half-done is recovered first.
    """
    path = Path(path)
    recover(path, looks_complete=_looks_like_checkpoint)
    if not os.path.lexists(path):
        return "absent"
    if path.is_symlink() or not path.is_dir():
        return "other"
    try:
        names = {e.name for e in os.scandir(path)}
    except OSError:
        return "other"
    if not names:
        return "absent"
    return "checkpoint" if names <= set(_FILE_LIMITS) and _looks_like_checkpoint(path) else "other"


def check_destination(path: str | Path, overwrite: bool = False) -> None:
    """Raise unless save_model(path, overwrite=overwrite) would be allowed (see destination_status)."""
    path = Path(path)
    status = destination_status(path)
    if status == "other":
        if os.path.lexists(path) and (path.is_symlink() or not path.is_dir()):
            raise CheckpointError(f"{path} exists and is not a folder; refusing to replace it")
        extra = sorted({e.name for e in os.scandir(path)} - set(_FILE_LIMITS))
        shown = ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else "")
        raise CheckpointError(f"{path} is a folder that is not a checkpoint of this project"
                              + (f" (it holds {shown})" if shown else "")
                              + "; nothing was written or deleted. Choose a new or empty folder.")
    if status == "checkpoint" and not overwrite:
        raise CheckpointExistsError(f"{path} already holds a checkpoint; nothing was written. "
                                    "Replace it explicitly (overwrite=True) or choose another folder.")


def save_model(model: VAE, path: str | Path, *, train_config: TrainConfig | None = None,
               metrics: list[dict[str, Any]] | None = None, state: dict[str, Any] | None = None,
               optimizer: torch.optim.Optimizer | None = None, dataset: dict[str, Any] | None = None,
               overwrite: bool = False, trainer_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write `model` (and optionally its recipe, history and optimizer) as a checkpoint folder at `path`.

    `trainer_tensors` (optional) go to trainer_state.safetensors: what else a run needs to resume
    exactly (FactorVAE's discriminator); read back with `load_trainer_tensors`.

    `path` must be absent, an empty folder, or (with `overwrite=True`) a checkpoint of this project;
    anything else is refused with CheckpointError before a byte is written, and nothing is ever
    deleted that is not a checkpoint (CheckpointExistsError when a checkpoint is there and
    overwrite is False: a UI asks the user, then calls again with overwrite=True; see
    `destination_status`). The folder is assembled under a temporary name beside `path` and swapped
    in (vae.safeio.atomic_dir), so whatever instant the process dies, `path` holds the previous checkpoint
    or the new one. A failed write (a full disk) raises CheckpointError with one line and leaves
    the previous checkpoint as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CheckpointError(f"cannot create the folder for {path}: {e.strerror or e}") from None
    check_destination(path, overwrite)
    clean_stale(path)
    existed = os.path.lexists(path)
    config: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model": model.config.to_dict(),
        "train": train_config.to_dict() if train_config is not None else None,
        "state": state or {},
        "dataset": dataset,
    }
    tmp: Path | None = None
    try:
        tmp = make_temp_dir(path)
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        write_durably(tmp / WEIGHTS_FILE, save_safetensors_bytes(weights, metadata={"format": "pt"}))
        if optimizer is not None:
            opt_tensors, opt_json = _optimizer_tensors(optimizer)
            write_durably(tmp / OPTIMIZER_FILE, save_safetensors_bytes(opt_tensors))
            config["optimizer"] = opt_json
        if trainer_tensors:
            write_durably(tmp / TRAINER_STATE_FILE, save_safetensors_bytes(
                {k: v.detach().cpu().contiguous() for k, v in trainer_tensors.items()}))
        write_durably(tmp / METRICS_FILE, "".join(json.dumps(m) + "\n" for m in (metrics or [])).encode())
        write_durably(tmp / CONFIG_FILE, json.dumps(config, indent=2).encode())
        fsync_dir(tmp)
        swap_in(tmp, path)
    except OSError as e:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        kept = "the previous checkpoint is intact" if existed else "nothing was written"
        if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise CheckpointError(f"no space left on device while saving to {path}; {kept}") from None
        raise CheckpointError(f"could not save to {path}: {e.strerror or e}; {kept}") from None
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


# ---------------------------------------------------------------------------------------------
# reading (the checks on each file's bytes are in vae.checkpoint_format)
# ---------------------------------------------------------------------------------------------

def _read_file_map(path: Path) -> tuple[dict[str, bytes], str]:
    """The checkpoint's files as bytes, from a folder or a zip (at its root or in one top folder).

    A swap into `path` left half-done by a killed process is recovered first (vae.safeio.atomic_dir), and
    temporary folders of dead writers beside it are removed.
    """
    where = str(path)
    if recover(path, looks_complete=_looks_like_checkpoint) or path.is_dir():
        clean_stale(path)
    if path.is_dir():
        return read_checkpoint_folder(path, where, optimizer=True), where
    if path.is_file():
        try:
            data = read_regular_file(path, MAX_CHECKPOINT_BYTES)
        except OSError as e:
            raise CheckpointError(f"{where}: cannot be read ({e.strerror or e})") from None
        return read_checkpoint_zip(data, where), where
    raise CheckpointError(f"no checkpoint at {path}: it is neither a folder nor a zip file")


def read_checkpoint_folder(path: str | Path, where: str | None = None, *, optimizer: bool = False) -> dict[str, bytes]:
    """The checkpoint files of folder `path` as bytes (optimizer state only when asked): regular
    files only (a FIFO is refused, not waited on), each within its limit. Messages say `where`
    (default: the folder's name, not its server path)."""
    path = Path(path)
    where = where or path.name
    files = {}
    for name, limit in _FILE_LIMITS.items():
        if name in RESUME_ONLY_FILES and not optimizer:
            continue
        try:
            files[name] = read_regular_file(path / name, limit)
        except FileNotFoundError:
            continue
        except OSError as e:
            raise CheckpointError(f"{where}/{name} cannot be read ({e.strerror or e})") from None
    return files


def read_checkpoint_zip(data: bytes, where: str = "upload") -> dict[str, bytes]:
    """The checkpoint files inside a zip (bytes), found at its root or in a single top folder.

    Every member is inflated with a hard cap on the bytes it actually produces (vae.safeio.safezip): only
    stored and deflate members, each within its file's limit and MAX_ZIP_RATIO times its compressed
    size; optimizer state is not read (an upload is explored, not resumed).
    """
    try:
        zf = open_zip(data, where=where, max_entries=MAX_ZIP_ENTRIES)
    except ZipRefused as e:
        if "not a zip file" in str(e) or "not a valid zip" in str(e):
            raise CheckpointError(f"{where} is not a zip file (expected a checkpoint folder zipped, "
                                  f"holding {CONFIG_FILE} and {WEIGHTS_FILE})") from None
        raise CheckpointError(str(e)) from None
    wanted = {CONFIG_FILE: MAX_CONFIG_BYTES, WEIGHTS_FILE: MAX_CHECKPOINT_BYTES, METRICS_FILE: MAX_METRICS_BYTES}
    found: dict[str, bytes] = {}
    total = 0
    with zf:
        for info in zf.infolist():
            base = info.filename.rstrip("/").split("/")[-1]
            depth = info.filename.strip("/").count("/")
            if info.is_dir() or base not in wanted or depth > 1:
                continue
            if base in found:
                raise CheckpointError(f"{where}: the zip holds more than one {base}")
            try:
                found[base] = read_member(zf, info, limit=wanted[base], where=where, max_ratio=MAX_ZIP_RATIO)
            except ZipRefused as e:
                raise CheckpointError(str(e)) from None
            total += len(found[base])
            if total > MAX_CHECKPOINT_BYTES:
                raise CheckpointError(f"{where}: the zip unpacks to more than {MAX_CHECKPOINT_BYTES / 2**20:.0f} MiB")
    return found


def load_checkpoint_files(files: dict[str, bytes], where: str = "checkpoint") -> VAE:
    """A validated VAE from the raw bytes of a checkpoint's files (as from an upload)."""
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if name not in files:
            raise CheckpointError(f"{where} has no {name}; a checkpoint holds {CONFIG_FILE} and {WEIGHTS_FILE}")
    config = _parse_config(files[CONFIG_FILE], where)
    expected = expected_shapes(_model_config(config, where))      # from the config alone: nothing allocated
    weights = _parse_weights(files[WEIGHTS_FILE], f"{where}/{WEIGHTS_FILE}", expected)
    model = build_model(config, weights, where)
    model.checkpoint_info["metrics"] = _parse_metrics(files.get(METRICS_FILE, b""), where)
    return model


def load_model(path: str | Path, device: str | torch.device | None = None) -> VAE:
    """Load and validate a checkpoint (folder or zip) into a VAE in eval mode.

    The model's config is `model.config`; its recipe, state and metrics history are in
    `model.checkpoint_info` ({"train", "state", "dataset", "metrics"}).
    Raises CheckpointError with a specific message for every kind of bad checkpoint.
    """
    path = Path(path)
    files, where = _read_file_map(path)
    model = load_checkpoint_files(files, where)
    if device is not None:
        model.to(device)
    return model


def load_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The per-epoch records of checkpoint folder `path` (empty when it has none)."""
    f = Path(path) / METRICS_FILE
    return _parse_metrics(read_regular_file(f, MAX_METRICS_BYTES), str(path)) if f.exists() else []


def load_optimizer_state(path: str | Path, optimizer: torch.optim.Optimizer) -> bool:
    """Restore `optimizer` from checkpoint folder `path`; returns False when it holds no optimizer state."""
    path = Path(path)
    f = path / OPTIMIZER_FILE
    if not f.exists():
        return False
    config = _parse_config(read_regular_file(path / CONFIG_FILE, MAX_CONFIG_BYTES), str(path))
    opt_json = config.get("optimizer")
    if not opt_json:
        return False
    tensors = _parse_weights(read_regular_file(f, MAX_CHECKPOINT_BYTES), f"{path}/{OPTIMIZER_FILE}")
    state: dict[int, dict[str, Any]] = {}
    for key, t in tensors.items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = t
    for pid, d in opt_json.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(d)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": opt_json["param_groups"]})
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: optimizer state does not fit this model: {e}") from None
    return True


def load_trainer_tensors(path: str | Path) -> dict[str, torch.Tensor] | None:
    """The tensors of checkpoint folder `path`'s trainer_state.safetensors, or None when it has none."""
    f = Path(path) / TRAINER_STATE_FILE
    if not f.exists():
        return None
    return _parse_weights(read_regular_file(f, MAX_CHECKPOINT_BYTES), f"{path}/{TRAINER_STATE_FILE}")


def files_zip_bytes(files: dict[str, bytes]) -> bytes:
    """A checkpoint's files (name -> bytes) zipped at the zip's root, for download; optimizer state is left out."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in (CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE):
            if name in files:
                zf.writestr(name, files[name])
    return buf.getvalue()


def checkpoint_zip_bytes(path: str | Path) -> bytes:
    """A checkpoint folder zipped (files at the zip's root), for download."""
    path = Path(path)
    return files_zip_bytes({n: (path / n).read_bytes() for n in (CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE)
                            if (path / n).exists()})
