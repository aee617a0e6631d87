"""Which decoder draws the latent control's picture, and its exports cached per weights.

The hand-written JavaScript decoder (`vae.browser_decoder` exports), onnxruntime-web (`vae.browser_onnx`'s
decoder.onnx), or the server (`server_decode_bytes`); `decode_mode` chooses, `decode_mode_note` says which
on the page. torch, vae.browser_decoder and vae.browser_onnx are imported where used.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from vae.ui.components.latent_control.state import _private

if TYPE_CHECKING:
    import torch

# VAE_BROWSER_DECODER=onnx makes the project's own MLP/conv models decode with onnxruntime-web too (bench)
_FORCE_ONNX = os.environ.get("VAE_BROWSER_DECODER", "") == "onnx"


# export_decoder costs a few ms for 20-400-784 (50 ms for a 1.6 M-weight conv decoder); re-export only
# when the weights change
# (a parameter's `_version` counts its in-place updates, e.g. optimiser steps).
_EXPORTS: "weakref.WeakKeyDictionary[torch.nn.Module, tuple[tuple, dict]]" = weakref.WeakKeyDictionary()


_ONNX: "weakref.WeakKeyDictionary[torch.nn.Module, tuple[tuple, Any]]" = weakref.WeakKeyDictionary()


def _weights_signature(model: torch.nn.Module) -> tuple:
    params = model.decoder.parameters() if hasattr(model, "decoder") else model.parameters()
    return tuple((p.data_ptr(), p._version, tuple(p.shape)) for p in params)


def _cached(cache: "weakref.WeakKeyDictionary", model: torch.nn.Module, make):
    """make(model), kept per model until its weights change (a signature of their versions and shapes)."""
    sig = _weights_signature(model)
    hit = cache.get(model)
    if hit is None or hit[0] != sig:
        hit = (sig, make(model))
        cache[model] = hit
    return hit[1]


def _cached_export(model: torch.nn.Module) -> tuple[dict[str, Any], bytes]:
    """export_decoder_binary(model): (header, blob), float16 where parity within 1/255 holds."""
    from vae.browser_decoder import export_decoder_binary

    return _cached(_EXPORTS, model, export_decoder_binary)


_JSON_EXPORTS: "weakref.WeakKeyDictionary[torch.nn.Module, tuple[tuple, dict]]" = weakref.WeakKeyDictionary()


def _cached_json_export(model: torch.nn.Module) -> dict[str, Any]:
    """export_decoder(model) (base64 JSON; the path scrubber's format), cached per weights."""
    from vae.browser_decoder import export_decoder

    return _cached(_JSON_EXPORTS, model, export_decoder)


def _cached_onnx(model: torch.nn.Module) -> dict[str, Any] | str:
    """onnx_decoder_export(model), or the reason it failed (a string); cached per weights."""
    from vae.browser_onnx import BrowserOnnxError, onnx_decoder_export

    sig = _weights_signature(model)
    hit = _ONNX.get(model)
    if hit is None or hit[0] != sig:
        try:
            hit = (sig, onnx_decoder_export(model))
        except BrowserOnnxError as e:
            hit = (sig, str(e))
        _ONNX[model] = hit
    return hit[1]


def decode_mode(model: torch.nn.Module, key: str | None = None) -> str:
    """"browser" when the hand-written JavaScript decoder runs it (every MLP and conv decoder the library
    builds, unless too large), "onnx" when onnxruntime-web runs its decoder.onnx (any other decoder that
    exports), else "server"; also "server" once the browser of this session reported that the decoder of
    the control `key` failed to load."""
    from vae.browser_decoder import can_decode_in_browser

    if key is not None and _private(key).get("browser_failed"):
        return "server"
    if can_decode_in_browser(model) and not _FORCE_ONNX:
        return "browser"
    return "onnx" if isinstance(_cached_onnx(model), dict) else "server"


def decode_mode_note(model: torch.nn.Module, key: str | None = None) -> str:
    """One sentence for the page: which decoder draws the image, and why when it is the server."""
    from vae.browser_decoder import browser_refusal

    mode = decode_mode(model, key)
    if mode == "browser":
        header, _ = _cached_export(model)
        return (f"Decoded in your browser: the decoder's weights ({header['weight_bytes'] / 1e6:.1f} MB, "
                f"{header['dtype']}) are sent once per session; a drag costs the server nothing.")
    if mode == "onnx":
        exp = _cached_onnx(model)
        mb = exp["onnx_bytes"] / 1e6
        size = f"{mb:.2f}" if mb >= 0.1 else f"{mb:.2g}"          # a small model's file is not "0.00 MB"
        return (f"Decoded in your browser with onnxruntime-web (WASM): decoder.onnx ({size} MB, "
                f"{exp['dtype']} weights) is sent once per session; a drag costs the server nothing.")
    failed = _private(key).get("browser_failed") if key is not None else None
    if failed:
        why = f"the browser could not run it ({failed})"
    else:
        onnx = _cached_onnx(model)
        why = browser_refusal(model) if isinstance(onnx, dict) else f"{browser_refusal(model)}; and {onnx}"
    return f"Decoded on the server as you move: {why}."


def server_decode_bytes(model: torch.nn.Module, z: np.ndarray) -> bytes:
    """model.decode of one point z (D,) as uint8 bytes in (C, H, W) order, rounded to the nearest level."""
    import torch

    with torch.inference_mode():
        zt = torch.as_tensor(np.asarray(z, dtype=np.float32), device=model.device).reshape(1, -1)
        x = model.decode(zt)[0]  # (C, H, W) in [0, 1]
    return (x * 255.0).round().clamp(0, 255).to(torch.uint8).cpu().numpy().tobytes()
