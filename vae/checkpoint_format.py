"""The checkpoint format: file names, limits, errors, and the checks each file's bytes must pass.

Everything here works on bytes already read (vae.checkpoint reads them from a folder or a zip):

    _parse_config(raw)          config.json: size, strict JSON (no NaN / Infinity), version, section types
    _check_safetensors(raw, expected)   pickles, size, and the header (vae.safeio.tensorfile) against the
                                names and shapes the config implies, before anything is allocated
    build_model(config, tensors)        a VAE, every tensor finite and bounded, and a few prior
                                points decoded and encoded to finite numbers
    _parse_metrics(raw)         metrics.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes

from .config import ConfigError, ModelConfig
from .model import VAE, expected_shapes
from vae.safeio.safefile import read_regular_file
from vae.safeio.tensorfile import FLOAT_DTYPES, TensorFileError, check_against, name_mismatch, read_header

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.jsonl"
OPTIMIZER_FILE = "optimizer.safetensors"
TRAINER_STATE_FILE = "trainer_state.safetensors"   # what else a Trainer owns (FactorVAE's discriminator), to resume
MAX_CHECKPOINT_BYTES = 512 * 2**20   # refuse larger weight files or zips (bigger than any model here)


MAX_CONFIG_BYTES = 1 << 20           # config.json (a few KB in practice)
MAX_METRICS_BYTES = 32 << 20         # metrics.jsonl (about 400 bytes per epoch)
MAX_ZIP_RATIO = 20                   # uncompressed / compressed size of a checkpoint zip member past 1 MiB
                                     # (float weights barely compress: about 1.1)
MAX_ZIP_ENTRIES = 1000
MAX_ABS_WEIGHT = 1e6                 # no trained weight comes near this; a larger one is an attack or a bug
_FILE_LIMITS = {CONFIG_FILE: MAX_CONFIG_BYTES, METRICS_FILE: MAX_METRICS_BYTES,
                WEIGHTS_FILE: MAX_CHECKPOINT_BYTES, OPTIMIZER_FILE: MAX_CHECKPOINT_BYTES,
                TRAINER_STATE_FILE: MAX_CHECKPOINT_BYTES}
RESUME_ONLY_FILES = (OPTIMIZER_FILE, TRAINER_STATE_FILE)   # read only to resume a run, never to explore one
_TORCH_DTYPE_NAMES = {"F64": "torch.float64", "F32": "torch.float32", "F16": "torch.float16",
                      "BF16": "torch.bfloat16", "I64": "torch.int64", "I32": "torch.int32", "I16": "torch.int16",
                      "I8": "torch.int8", "U8": "torch.uint8", "BOOL": "torch.bool"}


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, or does not fit its own config; or a save was refused / failed."""


class CheckpointExistsError(CheckpointError):
    """save_model was asked to write where a checkpoint already is, without overwrite=True."""


def _looks_like_checkpoint(path: Path) -> bool:
    """A folder whose config.json is a JSON object with this project's format_version and a model section."""
    try:
        config = json.loads(read_regular_file(path / CONFIG_FILE, MAX_CONFIG_BYTES))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(config, dict) and config.get("format_version") == FORMAT_VERSION and "model" in config


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _parse_config(raw: bytes, where: str) -> dict[str, Any]:
    if len(raw) > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{where}/{CONFIG_FILE} is {len(raw):,} bytes, over the limit of {MAX_CONFIG_BYTES:,}")
    try:
        config = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{where}/{CONFIG_FILE} is not valid JSON: {str(e)[:200]}") from None
    except RecursionError:
        raise CheckpointError(f"{where}/{CONFIG_FILE} is not valid JSON: nested too deeply") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{where}/{CONFIG_FILE} must hold a JSON object")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{where}/{CONFIG_FILE}: format_version {version!r:.40} is not supported "
                              f"(this version of vae reads format_version {FORMAT_VERSION})")
    if "model" not in config:
        raise CheckpointError(f"{where}/{CONFIG_FILE} has no \"model\" section")
    for section in ("train", "dataset", "state", "optimizer"):
        if config.get(section) is not None and not isinstance(config[section], dict):
            raise CheckpointError(f"{where}/{CONFIG_FILE}: \"{section}\" must be a JSON object or null, "
                                  f"got {type(config[section]).__name__}")
    return config


def _check_safetensors(raw: bytes, where: str, expected: dict[str, tuple[int, ...]] | None = None) -> None:
    """Refuse pickles, oversized files and headers that are malformed or (given `expected`, name ->
    shape) do not fit, before the safetensors library allocates anything."""
    if len(raw) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{where} is {len(raw) / 2**20:.0f} MiB, over the "
                              f"{MAX_CHECKPOINT_BYTES / 2**20:.0f} MiB limit")
    if raw[:2] == b"PK" or raw[:1] == b"\x80":
        raise CheckpointError(f"{where} is a pickle / torch.save file, not safetensors; "
                              "it was not loaded (pickles can run code). Re-save the weights with safetensors.")
    try:
        infos = read_header(raw, where)
    except TensorFileError as e:
        raise CheckpointError(f"{where} is not a valid safetensors file: {e}") from None
    if expected is not None:
        for name, info in infos.items():
            if name in expected and info.dtype not in FLOAT_DTYPES:
                raise CheckpointError(f"{where}: tensor {name!r} has dtype "
                                      f"{_TORCH_DTYPE_NAMES.get(info.dtype, info.dtype)}, expected a float")
        try:
            check_against(infos, expected, where)
        except TensorFileError as e:
            raise CheckpointError(str(e)) from None


def _parse_weights(raw: bytes, where: str, expected: dict[str, tuple[int, ...]] | None = None) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file (`where` names it in messages), its header checked first."""
    _check_safetensors(raw, where, expected)
    try:
        return load_safetensors_bytes(raw)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as e:
        raise CheckpointError(f"{where} is not a valid safetensors file: {e}") from None


def _model_config(config: dict[str, Any], where: str) -> ModelConfig:
    try:
        return ModelConfig.from_dict(config["model"])
    except ConfigError as e:
        raise CheckpointError(f"{where}/{CONFIG_FILE}: {e}") from None


def _check_values(model: VAE, where: str) -> None:
    """Refuse a model whose weights are huge or whose decoder / encoder give non-finite numbers on
    a few points of the prior and their decodings (weights of 3e38, a learned sigma of inf)."""
    for name, t in model.state_dict().items():
        if t.numel() and float(t.abs().max()) > MAX_ABS_WEIGHT:
            raise CheckpointError(f"{where}/{WEIGHTS_FILE}: tensor {name!r} holds values up to "
                                  f"{float(t.abs().max()):.3g}, beyond the {MAX_ABS_WEIGHT:g} a trained model "
                                  "could hold; refused (decoding would overflow)")
    with torch.inference_mode():
        z = torch.randn(8, model.config.latent_dim, generator=torch.Generator().manual_seed(0))
        z = torch.cat([torch.zeros(1, model.config.latent_dim), z, 3 * z])
        logits = model.decode_logits(z)
        mu, logvar = model.encode(torch.sigmoid(logits))
        sigma = model.sigma()
        finite = bool(torch.isfinite(logits).all() and torch.isfinite(mu).all() and torch.isfinite(logvar).all()
                      and torch.isfinite(sigma).all() and (sigma > 0).all())
    if not finite:
        raise CheckpointError(f"{where}/{WEIGHTS_FILE}: decoding or encoding a few points of the prior gives "
                              "NaN or inf values; refused")


def build_model(config: dict[str, Any], weights: dict[str, torch.Tensor], where: str = "checkpoint") -> VAE:
    """A VAE from a parsed config.json dict and its tensors, each checked against the config."""
    model_config = _model_config(config, where)
    expected = expected_shapes(model_config)
    mismatch = name_mismatch(expected, weights)
    if mismatch:
        raise CheckpointError(f"{where}/{WEIGHTS_FILE} does not fit its config ({model_config.arch}, "
                              f"latent_dim={model_config.latent_dim}): {mismatch}")
    for name, shape in expected.items():
        t = weights[name]
        if tuple(t.shape) != tuple(shape):
            raise CheckpointError(f"{where}/{WEIGHTS_FILE}: tensor {name!r} has shape {tuple(t.shape)}, "
                                  f"but the config needs {tuple(shape)}")
        if not t.dtype.is_floating_point:
            raise CheckpointError(f"{where}/{WEIGHTS_FILE}: tensor {name!r} has dtype {t.dtype}, expected a float")
        if not torch.isfinite(t).all():
            raise CheckpointError(f"{where}/{WEIGHTS_FILE}: tensor {name!r} contains NaN or inf values")
    model = VAE(model_config)
    model.load_state_dict({k: v.to(torch.float32) for k, v in weights.items()})
    model.eval()
    _check_values(model, where)
    model.checkpoint_info = {k: config.get(k) for k in ("train", "state", "dataset")}
    return model


def _parse_metrics(raw: bytes, where: str) -> list[dict[str, Any]]:
    if len(raw) > MAX_METRICS_BYTES:
        raise CheckpointError(f"{where}/{METRICS_FILE} is {len(raw):,} bytes, over the limit of {MAX_METRICS_BYTES:,}")
    out = []
    for i, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            raise CheckpointError(f"{where}/{METRICS_FILE} line {i} is not JSON: {str(e)[:200]}") from None
        if isinstance(rec, dict):
            out.append(rec)
    return out
