"""A decoder as ONNX bytes for the browser (onnxruntime-web, WASM), for the decoders the hand-written
JavaScript decoder (vae.browser_decoder) cannot run: an upsample-and-convolve decoder, batch norm, other
activations, outside models (file.py:function) and ONNX models.

    exp = onnx_decoder_export(model)          # dtype "auto" (default), "float16" or "float32"
    exp["onnx"]        decoder.onnx bytes: input "z" (B, D) float32 -> first output (B, C, H, W) float32,
                       logits (Bernoulli) or the mean (Gaussian), as vae.models.onnx_export writes it
    exp["dtype"]       "float16" when its weights travel as float16 (vae.models.onnx_float16: half the bytes,
                       float32 input, output and arithmetic), else "float32"
    exp["pixel_diff"]  largest pixel change float16 makes over 64 prior points (0.0 for float32)
    exp["transform"]   "sigmoid" (Bernoulli: probabilities from logits) or "clamp" (Gaussian: mean clamped
                       to [0, 1]): what the browser applies to the output, as `model.decode` does
    exp["hash"]        16 hex digits of sha256 over the bytes and the header (the browser's cache key)

No Streamlit here. `decode_onnx_export` runs an export with onnxruntime (tests: parity with model.decode).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
import torch.nn as nn

FORMAT = "vae-onnx-decoder/1"
MAX_BROWSER_ONNX_BYTES = 64 * 2**20   # as for the hand-written decoder's weights
DTYPES = ("auto", "float16", "float32")
# VAE_BROWSER_ONNX_DTYPE=float32 (or float16) overrides "auto" for the app's exports (bench/browser_decode.py)
DTYPE_ENV = "VAE_BROWSER_ONNX_DTYPE"


class BrowserOnnxError(ValueError):
    """This decoder cannot be sent to the browser as ONNX (export failed, too large)."""


def _onnx_bytes(model: nn.Module) -> bytes:
    from vae.models.onnx_check import DECODER_FILE
    from vae.models.onnx_model import OnnxVAE

    if isinstance(model, OnnxVAE):
        return bytes(model.files[DECODER_FILE])      # already checked when it was loaded
    from vae.models.onnx_export import decoder_onnx

    size = 4 * sum(p.numel() for p in model.parameters())
    if size > MAX_BROWSER_ONNX_BYTES:
        raise BrowserOnnxError(f"the model's weights are {size / 2**20:.0f} MiB, over the "
                               f"{MAX_BROWSER_ONNX_BYTES // 2**20} MiB a browser is sent")
    try:
        return decoder_onnx(model)
    except Exception as e:   # noqa: BLE001 - any exporter failure means: decode on the server
        raise BrowserOnnxError(f"its decoder could not be exported to ONNX ({type(e).__name__}: "
                               f"{str(e).splitlines()[0][:160] if str(e) else ''})") from e


def _as_float16(data: bytes, latent_dim: int, transform: str, dtype: str) -> tuple[bytes, str, float]:
    """(bytes, dtype of its weights, pixel difference made here): float16 weights when asked, or for "auto" when
    every pixel of 64 prior points stays within one grey level (1/255) of the float32 graph's; else `data` as
    it is (an upload exported with --float16 is sent as it came, and says "float16")."""
    from vae.models.onnx_float16 import ONE_GREY_LEVEL, float16_weights, pixel_difference, weights_dtype

    try:
        small = data if dtype == "float32" else float16_weights(data)
        diff = pixel_difference(data, small, latent_dim, transform) if small is not data else 0.0
    except Exception:  # noqa: BLE001 - a graph the converter or onnxruntime cannot take: send it as it is
        if dtype == "float16":
            raise
        small, diff = data, 0.0
    if small is data or (dtype == "auto" and diff > ONE_GREY_LEVEL):
        return data, weights_dtype(data), 0.0
    return small, "float16", diff


def onnx_decoder_export(model: nn.Module, dtype: str | None = None) -> dict[str, Any]:
    """{"format", "hash", "latent_dim", "image_shape" [C, H, W], "transform", "dtype", "pixel_diff", "onnx": bytes,
    "onnx_bytes"} (see the module docstring). dtype: "auto" (float16 weights within one grey level, else
    float32), "float16" or "float32"; None: $VAE_BROWSER_ONNX_DTYPE, else "auto". The 1.6 M-weight mnist-conv
    decoder exports in about 0.3 s on a CPU, plus about 1.3 s for "auto"; cache the result per weights.
    Raises BrowserOnnxError."""
    dtype = dtype or os.environ.get(DTYPE_ENV) or "auto"
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    c = model.config
    data = _onnx_bytes(model)
    if len(data) > MAX_BROWSER_ONNX_BYTES:
        raise BrowserOnnxError(f"decoder.onnx is {len(data) / 2**20:.0f} MiB, over the "
                               f"{MAX_BROWSER_ONNX_BYTES // 2**20} MiB a browser is sent")
    transform = "sigmoid" if c.likelihood == "bernoulli" else "clamp"
    data, dtype, diff = _as_float16(data, int(c.latent_dim), transform, dtype)
    header = {"format": FORMAT, "latent_dim": int(c.latent_dim), "image_shape": [int(v) for v in c.image_shape],
              "transform": transform, "dtype": dtype, "pixel_diff": diff}
    digest = hashlib.sha256(repr(sorted(header.items())).encode())
    digest.update(data)
    return {**header, "hash": digest.hexdigest()[:16], "onnx": data, "onnx_bytes": len(data)}


def decode_onnx_export(exported: dict[str, Any], z: np.ndarray) -> np.ndarray:
    """Reference for the browser: z (B, D) -> (B, C*H*W) float32 in [0, 1], with onnxruntime on the CPU and the
    export's transform, exactly what the component's JavaScript computes with onnxruntime-web."""
    from vae.models.onnx_float16 import decode_pixels

    return decode_pixels(exported["onnx"], z, exported["transform"]).astype(np.float32)
