"""A checkpoint folder's decoder for the browser, read as NumPy, without importing torch.

`import torch` is most of a fresh server's first second (2-3.5 s of a 3-5 s first picture on a 2-core
machine); a page that only needs the browser to draw a decoded picture can start from the files:

    cfg, weights = read_numpy_checkpoint(folder)       # ModelConfig, {name: float32 ndarray}; or None
    header, blob = export_decoder_binary_numpy(cfg, weights)   # == browser_decoder.export_decoder_binary(model)

Only MLP decoders (Linear (act Linear)* -> sigmoid, `decoder.net.{0,2,...}`) are read here; any other
architecture, or any file that does not read cleanly, gives None: the caller then loads the model with
torch as usual (vae.checkpoint), which reports what is wrong. `pack_binary` is the one packer of the
binary export; vae.browser_decoder packs a torch model's layers with it.

The Decode page orders its sliders by each dimension's KL on the model's data set, which takes torch, the
data and an encoder pass; a checkpoint folder may carry it in DIM_ORDER_FILE for the decoder whose export
hash it names (`read_dim_order`; written by `python -m vae.ui.decode.first_picture FOLDER`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from vae.config import ConfigError, ModelConfig
from vae.safeio.safefile import read_regular_file
from vae.safeio.tensorfile import TensorFileError, read_header

FORMAT = "vae-decoder/2"
_MAX_CONFIG_BYTES = 1 << 20
MAX_BROWSER_WEIGHT_BYTES = 64 * 2**20   # larger decoders stay on the server (a page must not fetch 100s of MB)
DIM_ORDER_FILE = "dim_order.json"       # beside config.json: the page's per-dimension KL, for one decoder
DIM_ORDER_FORMAT = "vae-dim-order/1"


class BrowserDecoderError(ValueError):
    """This decoder cannot run in the browser (an unknown layer, too large), or an export is malformed."""


def read_numpy_checkpoint(folder: str | Path) -> tuple[ModelConfig, dict[str, np.ndarray]] | None:
    """(ModelConfig, {tensor name: float32 array}) of a checkpoint folder (config.json, model.safetensors),
    or None when either file is missing, too large, or malformed (vae.checkpoint.load_model says why)."""
    folder = Path(folder)
    try:
        config = json.loads(read_regular_file(folder / "config.json", _MAX_CONFIG_BYTES))
        cfg = ModelConfig.from_dict(config["model"])
        raw = read_regular_file(folder / "model.safetensors", MAX_BROWSER_WEIGHT_BYTES * 4)
        infos = read_header(raw, str(folder))
    except (OSError, ValueError, KeyError, TypeError, RecursionError, ConfigError, TensorFileError):
        return None
    (n,) = np.frombuffer(raw[:8], "<u8")
    data = memoryview(raw)[8 + int(n):]
    weights = {}
    for name, info in infos.items():
        if info.dtype not in ("F32", "F16", "F64"):
            return None
        dtype = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}[info.dtype]
        a = np.frombuffer(data[info[2]:info[3]], dtype).reshape(info.shape).astype(np.float32)
        if not np.isfinite(a).all():
            return None
        weights[name] = a
    return cfg, weights


def mlp_decoder_layers(cfg: ModelConfig, weights: dict[str, np.ndarray]) -> list[tuple[dict[str, Any], np.ndarray,
                                                                                      np.ndarray]] | None:
    """The MLP decoder's layers as (layer dict without weights, weight (out, in), bias (out,)) float32, in the
    export's form (activation `cfg.activation` between, sigmoid last), or None when it is not one."""
    if cfg.arch != "mlp":
        return None
    parts, i, n_in = [], 0, cfg.latent_dim
    while f"decoder.net.{i}.weight" in weights:
        w, b = weights[f"decoder.net.{i}.weight"], weights.get(f"decoder.net.{i}.bias")
        if w.ndim != 2 or w.shape[1] != n_in or b is None or b.shape != (w.shape[0],):
            return None
        parts.append(({"op": "linear", "in": n_in, "out": int(w.shape[0]), "act": cfg.activation}, w, b))
        n_in, i = int(w.shape[0]), i + 2
    if not parts or n_in != int(np.prod(cfg.image_shape)):
        return None
    parts[-1][0]["act"] = "sigmoid"
    return parts


def decode_parts(parts, z: np.ndarray) -> np.ndarray:
    """NumPy decode of MLP parts (float64 sums, like the browser's): z (B, D) -> (B, C*H*W) in [0, 1]."""
    h = np.asarray(z, np.float64)
    for layer, w, b in parts:
        h = h @ w.T.astype(np.float64) + b
        act = layer["act"]
        h = np.maximum(h, 0.0) if act == "relu" else np.tanh(h) if act == "tanh" else \
            1.0 / (1.0 + np.exp(-h)) if act == "sigmoid" else h
    return h


def pack_binary(header: dict[str, Any], parts, dtype: str) -> tuple[dict[str, Any], bytes]:
    """The binary export (see vae.browser_decoder.export_decoder_binary) of `parts`: (layer dict, weight,
    bias) with float32 ndarrays, or (layer dict, None, None) for a reshape. dtype "float16" or "float32"."""
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'auto', 'float16' or 'float32', got {dtype!r}")
    np_dtype = "<f2" if dtype == "float16" else "<f4"
    digest = hashlib.sha256((FORMAT + dtype).encode())
    chunks: list[bytes] = []
    offset, layers = 0, []
    for layer, w, b in parts:
        digest.update(repr(sorted(layer.items())).encode())
        if w is not None:
            refs = []
            for t in (w, b):
                raw = np.ascontiguousarray(t).astype(np_dtype).tobytes()
                raw += b"\0" * (-len(raw) % 4)
                digest.update(raw)
                refs.append([offset, int(t.size)])
                chunks.append(raw)
                offset += len(raw)
            layer = {**layer, "weight": refs[0], "bias": refs[1]}
        layers.append(layer)
    return ({**header, "hash": digest.hexdigest()[:16], "dtype": dtype, "weight_bytes": offset, "layers": layers},
            b"".join(chunks))


def export_decoder_binary_numpy(cfg: ModelConfig, weights: dict[str, np.ndarray],
                                dtype: str = "auto") -> tuple[dict[str, Any], bytes] | None:
    """`export_decoder_binary` of the model these files hold, from NumPy (MLP decoders; else None).
    dtype "auto": float16 when decoding 64 prior points (z ~ N(0, 1.5^2)) with float16-rounded weights stays
    within 1/255 of float32's, as the torch export decides."""
    parts = mlp_decoder_layers(cfg, weights)
    if parts is None:
        return None
    if dtype == "auto":
        z = np.random.default_rng(0).normal(size=(64, cfg.latent_dim)) * 1.5
        half = [(layer, w.astype(np.float16).astype(np.float32), b.astype(np.float16).astype(np.float32))
                for layer, w, b in parts]
        dtype = "float16" if np.abs(decode_parts(half, z) - decode_parts(parts, z)).max() <= 1.0 / 255.0 \
            else "float32"
    header = {"format": FORMAT, "latent_dim": cfg.latent_dim, "image_shape": list(cfg.image_shape)}
    return pack_binary(header, parts, dtype)


def dim_order_record(kl_per_dim, decoder_hash: str, dataset_key: str, images: int) -> dict[str, Any]:
    """DIM_ORDER_FILE's content: the page's mean KL per dimension (D,) in nats over `images` test images of
    the data set `dataset_key`, for the decoder whose binary export hash is `decoder_hash`."""
    return {"format": DIM_ORDER_FORMAT, "decoder_hash": str(decoder_hash), "dataset": str(dataset_key),
            "images": int(images), "kl_per_dim": [float(k) for k in np.asarray(kl_per_dim, np.float64).reshape(-1)]}


def read_dim_order(folder: str | Path, decoder_hash: str, latent_dim: int) -> np.ndarray | None:
    """The KL per dimension (latent_dim,) float64 nats stored in `folder`/DIM_ORDER_FILE for the decoder
    with export hash `decoder_hash`; None when the file is missing, malformed, or for other weights."""
    try:
        record = json.loads(read_regular_file(Path(folder) / DIM_ORDER_FILE, _MAX_CONFIG_BYTES))
        kl = np.asarray(record["kl_per_dim"], np.float64)
        ok = record["format"] == DIM_ORDER_FORMAT and record["decoder_hash"] == decoder_hash
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return kl if ok and kl.shape == (latent_dim,) and np.isfinite(kl).all() else None
