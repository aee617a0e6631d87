"""Checkpoints: a folder holding `config.json`, `model.safetensors` and `metrics.jsonl`.

    config.json        {"format_version": 1, "model": ModelConfig dict, "train": TrainConfig dict | null,
                        "state": {"epoch": int, "step": int, ...}, "dataset": {...} | null}
    model.safetensors  the model's tensors, names and shapes exactly those of `VAE(ModelConfig)`
    metrics.jsonl      one JSON object per finished epoch (epoch, train_loss, test_loss, recon, kl, ...)
    optimizer.safetensors + the "optimizer" entry of config.json   (optional, for resuming)

A folder is written next to its destination and renamed into place, so a reader sees the old
checkpoint or the new one, never half of one. Loading never unpickles: tensors come from
safetensors only, and every name, shape, dtype and value is checked against the config.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from .config import ConfigError, ModelConfig, TrainConfig
from .model import VAE

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.jsonl"
OPTIMIZER_FILE = "optimizer.safetensors"
MAX_CHECKPOINT_BYTES = 512 * 2**20   # refuse larger weight files or zips (bigger than any model here)


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, or does not fit its own config."""


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------

def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def save_model(model: VAE, path: str | Path, *, train_config: TrainConfig | None = None,
               metrics: list[dict[str, Any]] | None = None, state: dict[str, Any] | None = None,
               optimizer: torch.optim.Optimizer | None = None, dataset: dict[str, Any] | None = None) -> Path:
    """Write `model` (and optionally its recipe, history and optimizer) as a checkpoint folder at `path`.

    The folder is assembled under a temporary name beside `path` and swapped in, so an interrupted
    save leaves the previous checkpoint intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model": model.config.to_dict(),
        "train": train_config.to_dict() if train_config is not None else None,
        "state": state or {},
        "dataset": dataset,
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)   # mkdtemp makes 0700; a checkpoint folder gets the usual permissions
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        (tmp / WEIGHTS_FILE).write_bytes(save_safetensors_bytes(weights, metadata={"format": "pt"}))
        if optimizer is not None:
            opt_tensors, opt_json = _optimizer_tensors(optimizer)
            (tmp / OPTIMIZER_FILE).write_bytes(save_safetensors_bytes(opt_tensors))
            config["optimizer"] = opt_json
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        (tmp / METRICS_FILE).write_text("".join(json.dumps(m) + "\n" for m in (metrics or [])))
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        _swap_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Rename folder `tmp` to `path`, replacing any existing folder there."""
    if not path.exists():
        os.replace(tmp, path)
        return
    if not path.is_dir():
        raise CheckpointError(f"{path} exists and is not a folder; refusing to overwrite it")
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------

def _parse_config(raw: bytes, where: str) -> dict[str, Any]:
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{where}/{CONFIG_FILE} is not valid JSON: {e}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{where}/{CONFIG_FILE} must hold a JSON object")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{where}/{CONFIG_FILE}: format_version {version!r} is not supported "
                              f"(this version of vae reads format_version {FORMAT_VERSION})")
    if "model" not in config:
        raise CheckpointError(f"{where}/{CONFIG_FILE} has no \"model\" section")
    return config


def _parse_weights(raw: bytes, where: str) -> dict[str, torch.Tensor]:
    if len(raw) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{where}/{WEIGHTS_FILE} is {len(raw) / 2**20:.0f} MiB, over the "
                              f"{MAX_CHECKPOINT_BYTES / 2**20:.0f} MiB limit")
    if raw[:2] == b"PK" or raw[:1] == b"\x80":
        raise CheckpointError(f"{where}/{WEIGHTS_FILE} is a pickle / torch.save file, not safetensors; "
                              "it was not loaded (pickles can run code). Re-save the weights with safetensors.")
    try:
        return load_safetensors_bytes(raw)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as e:
        raise CheckpointError(f"{where}/{WEIGHTS_FILE} is not a valid safetensors file: {e}") from None


def build_model(config: dict[str, Any], weights: dict[str, torch.Tensor], where: str = "checkpoint") -> VAE:
    """A VAE from a parsed config.json dict and its tensors, each checked against the config."""
    try:
        model_config = ModelConfig.from_dict(config["model"])
        model = VAE(model_config)
    except ConfigError as e:
        raise CheckpointError(f"{where}/{CONFIG_FILE}: {e}") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing tensor(s) {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected tensor(s) {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        raise CheckpointError(f"{where}/{WEIGHTS_FILE} does not fit its config ({model_config.arch}, "
                              f"latent_dim={model_config.latent_dim}): " + "; ".join(parts))
    for name, ref in expected.items():
        t = weights[name]
        if tuple(t.shape) != tuple(ref.shape):
            raise CheckpointError(f"{where}/{WEIGHTS_FILE}: tensor {name!r} has shape {tuple(t.shape)}, "
                                  f"but the config needs {tuple(ref.shape)}")
        if not t.dtype.is_floating_point:
            raise CheckpointError(f"{where}/{WEIGHTS_FILE}: tensor {name!r} has dtype {t.dtype}, expected a float")
        if not torch.isfinite(t).all():
            raise CheckpointError(f"{where}/{WEIGHTS_FILE}: tensor {name!r} contains NaN or inf values")
    model.load_state_dict({k: v.to(torch.float32) for k, v in weights.items()})
    model.eval()
    model.checkpoint_info = {k: config.get(k) for k in ("train", "state", "dataset")}
    return model


def _read_file_map(path: Path) -> tuple[dict[str, bytes], str]:
    """The checkpoint's files as bytes, from a folder or a zip (at its root or in one top folder)."""
    where = str(path)
    if path.is_dir():
        files = {}
        for name in (CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE, OPTIMIZER_FILE):
            f = path / name
            if f.is_file():
                if f.stat().st_size > MAX_CHECKPOINT_BYTES:
                    raise CheckpointError(f"{f} is larger than {MAX_CHECKPOINT_BYTES / 2**20:.0f} MiB")
                files[name] = f.read_bytes()
        return files, where
    if path.is_file():
        return read_checkpoint_zip(path.read_bytes(), where), where
    raise CheckpointError(f"no checkpoint at {path}: it is neither a folder nor a zip file")


def read_checkpoint_zip(data: bytes, where: str = "upload") -> dict[str, bytes]:
    """The checkpoint files inside a zip (bytes), found at its root or in a single top folder."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise CheckpointError(f"{where} is not a zip file (expected a checkpoint folder zipped, "
                              f"holding {CONFIG_FILE} and {WEIGHTS_FILE})") from None
    wanted = {CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE, OPTIMIZER_FILE}
    found: dict[str, bytes] = {}
    total = 0
    for info in zf.infolist():
        base = info.filename.rstrip("/").split("/")[-1]
        depth = info.filename.strip("/").count("/")
        if info.is_dir() or base not in wanted or depth > 1:
            continue
        total += info.file_size
        if total > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"{where}: the zip unpacks to more than {MAX_CHECKPOINT_BYTES / 2**20:.0f} MiB")
        if base in found:
            raise CheckpointError(f"{where}: the zip holds more than one {base}")
        found[base] = zf.read(info)
    return found


def load_checkpoint_files(files: dict[str, bytes], where: str = "checkpoint") -> VAE:
    """A validated VAE from the raw bytes of a checkpoint's files (as from an upload)."""
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if name not in files:
            raise CheckpointError(f"{where} has no {name}; a checkpoint holds {CONFIG_FILE} and {WEIGHTS_FILE}")
    config = _parse_config(files[CONFIG_FILE], where)
    model = build_model(config, _parse_weights(files[WEIGHTS_FILE], where), where)
    model.checkpoint_info["metrics"] = _parse_metrics(files.get(METRICS_FILE, b""), where)
    return model


def _parse_metrics(raw: bytes, where: str) -> list[dict[str, Any]]:
    out = []
    for i, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{where}/{METRICS_FILE} line {i} is not JSON: {e}") from None
        if isinstance(rec, dict):
            out.append(rec)
    return out


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
    return _parse_metrics(f.read_bytes(), str(path)) if f.exists() else []


def load_optimizer_state(path: str | Path, optimizer: torch.optim.Optimizer) -> bool:
    """Restore `optimizer` from checkpoint folder `path`; returns False when it holds no optimizer state."""
    path = Path(path)
    f = path / OPTIMIZER_FILE
    if not f.exists():
        return False
    config = _parse_config((path / CONFIG_FILE).read_bytes(), str(path))
    opt_json = config.get("optimizer")
    if not opt_json:
        return False
    tensors = _parse_weights(f.read_bytes(), str(path))
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
