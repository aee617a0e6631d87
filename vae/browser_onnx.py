"""A decoder as ONNX bytes for the browser (onnxruntime-web, WASM), for the decoders the hand-written
JavaScript decoder (vae.browser_decoder) cannot run: an upsample-and-convolve decoder, batch norm, other
activations, outside models (file.py:function) and ONNX models.

    exp = onnx_decoder_export(model)
    exp["onnx"]        decoder.onnx bytes: input "z" (B, D) float32 -> first output (B, C, H, W) float32,
                       logits (Bernoulli) or the mean (Gaussian), as vae.models.onnx_export writes it
    exp["transform"]   "sigmoid" (Bernoulli: probabilities from logits) or "clamp" (Gaussian: mean clamped
                       to [0, 1]): what the browser applies to the output, as `model.decode` does
    exp["hash"]        16 hex digits of sha256 over the bytes and the header (the browser's cache key)

No Streamlit here. `decode_onnx_export` runs an export with onnxruntime (tests: parity with model.decode).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch.nn as nn

FORMAT = "vae-onnx-decoder/1"
MAX_BROWSER_ONNX_BYTES = 64 * 2**20   # as for the hand-written decoder's weights


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


def onnx_decoder_export(model: nn.Module) -> dict[str, Any]:
    """{"format", "hash", "latent_dim", "image_shape" [C, H, W], "transform", "onnx": bytes} (see the module
    docstring). A 1.6 M-weight decoder exports in about 0.3 s on a CPU; cache the result per weights.
    Raises BrowserOnnxError."""
    c = model.config
    data = _onnx_bytes(model)
    if len(data) > MAX_BROWSER_ONNX_BYTES:
        raise BrowserOnnxError(f"decoder.onnx is {len(data) / 2**20:.0f} MiB, over the "
                               f"{MAX_BROWSER_ONNX_BYTES // 2**20} MiB a browser is sent")
    transform = "sigmoid" if c.likelihood == "bernoulli" else "clamp"
    header = {"format": FORMAT, "latent_dim": int(c.latent_dim), "image_shape": [int(v) for v in c.image_shape],
              "transform": transform}
    digest = hashlib.sha256(repr(sorted(header.items())).encode())
    digest.update(data)
    return {**header, "hash": digest.hexdigest()[:16], "onnx": data, "onnx_bytes": len(data)}


def decode_onnx_export(exported: dict[str, Any], z: np.ndarray) -> np.ndarray:
    """Reference for the browser: z (B, D) -> (B, C*H*W) float32 in [0, 1], with onnxruntime on the CPU and the
    export's transform, exactly what the component's JavaScript computes with onnxruntime-web."""
    import onnxruntime as ort

    sess = ort.InferenceSession(exported["onnx"], providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: np.asarray(z, dtype=np.float32)})[0]
    out = out.reshape(len(out), -1).astype(np.float64)
    out = 1.0 / (1.0 + np.exp(-out)) if exported["transform"] == "sigmoid" else np.clip(out, 0.0, 1.0)
    return out.astype(np.float32)
