"""Export an MLP decoder's weights so a browser can decode latent points itself, in JavaScript.

The latent-control component (vae/ui/latent_control) decodes every animation frame in the browser
from these weights: Float32Array matrix-vector products, Linear -> ReLU -> ... -> Linear -> sigmoid,
exactly `VAE.decode` for `arch="mlp"`. Conv decoders are refused (`BrowserDecoderError`); they
decode on the server instead.

The exported form is plain JSON (no Streamlit here):

    {"format": "vae-mlp-decoder/1",
     "hash": "<16 hex digits of sha256 over shapes and bytes>",
     "latent_dim": D, "image_shape": [C, H, W],
     "layers": [{"in": n_in, "out": n_out,
                 "weight": base64 of float32 little-endian (n_out, n_in) row-major (torch's layout),
                 "bias":   base64 of float32 little-endian (n_out,)}, ...],
     "activations": ["relu", ..., "relu", "sigmoid"]}   # one per layer, applied after it

`activations[-1] == "sigmoid"` is the mean link of `VAE.decode`; the output vector (C*H*W,) is the
image in (C, H, W) order, values in [0, 1].
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import numpy as np
import torch
import torch.nn as nn

FORMAT = "vae-mlp-decoder/1"


class BrowserDecoderError(ValueError):
    """This decoder cannot run in the browser (not a plain MLP), or an export is malformed."""


def mlp_decoder_layers(model: nn.Module) -> list[nn.Linear]:
    """The Linear layers of `model.decoder.net`, checked to be Linear (ReLU Linear)* in that order.

    Raises BrowserDecoderError naming what is there instead (a conv decoder, another activation).
    """
    config = getattr(model, "config", None)
    arch = getattr(config, "arch", None)
    if arch != "mlp":
        raise BrowserDecoderError(f"only MLP decoders run in the browser; this model's arch is {arch!r} "
                                  "(it is decoded on the server instead)")
    net = getattr(getattr(model, "decoder", None), "net", None)
    if not isinstance(net, nn.Sequential) or len(net) == 0:
        raise BrowserDecoderError("model.decoder.net is not an nn.Sequential of Linear/ReLU layers")
    layers: list[nn.Linear] = []
    for i, module in enumerate(net):
        expect_linear = i % 2 == 0
        if expect_linear and isinstance(module, nn.Linear):
            layers.append(module)
        elif not expect_linear and type(module) is nn.ReLU:
            continue
        else:
            want = "Linear" if expect_linear else "ReLU"
            raise BrowserDecoderError(f"model.decoder.net[{i}] is {type(module).__name__}, expected {want}; "
                                      "only Linear (ReLU Linear)* decoders run in the browser")
    if not isinstance(net[-1], nn.Linear):
        raise BrowserDecoderError("model.decoder.net must end with a Linear layer (the sigmoid is in VAE.decode)")
    return layers


def can_decode_in_browser(model: nn.Module) -> bool:
    """True when `export_mlp_decoder(model)` would succeed."""
    try:
        mlp_decoder_layers(model)
    except BrowserDecoderError:
        return False
    return True


def _le_float32(t: torch.Tensor) -> bytes:
    return t.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4", copy=False).tobytes()


def export_mlp_decoder(model: nn.Module) -> dict[str, Any]:
    """The decoder of an MLP VAE as JSON-ready dict (see the module docstring); ~1.8 MB for 20-400-784.

    Raises BrowserDecoderError for conv decoders or anything that is not Linear (ReLU Linear)*.
    """
    linears = mlp_decoder_layers(model)
    digest = hashlib.sha256(FORMAT.encode())
    layers = []
    for lin in linears:
        w, b = _le_float32(lin.weight), _le_float32(lin.bias)
        digest.update(f"{lin.out_features}x{lin.in_features}".encode())
        digest.update(w)
        digest.update(b)
        layers.append({"in": lin.in_features, "out": lin.out_features,
                       "weight": base64.b64encode(w).decode("ascii"),
                       "bias": base64.b64encode(b).decode("ascii")})
    config = model.config
    n_pixels = config.channels * config.image_size * config.image_size
    if linears[0].in_features != config.latent_dim or linears[-1].out_features != n_pixels:
        raise BrowserDecoderError(f"decoder maps {linears[0].in_features} -> {linears[-1].out_features}, "
                                  f"but the config says latent_dim {config.latent_dim} -> {n_pixels} pixels")
    return {"format": FORMAT, "hash": digest.hexdigest()[:16], "latent_dim": config.latent_dim,
            "image_shape": list(config.image_shape), "layers": layers,
            "activations": ["relu"] * (len(layers) - 1) + ["sigmoid"]}


def decode_exported(exported: dict[str, Any], z: np.ndarray) -> np.ndarray:
    """Reference decoder for an export, in NumPy float32: z (B, D) -> (B, C*H*W) in [0, 1].

    Checks that the export round-trips (format, shapes, byte lengths); the browser's JavaScript is
    tested against `model.decode` separately, in Chromium (tests/e2e/test_latent_control.py).
    """
    if exported.get("format") != FORMAT:
        raise BrowserDecoderError(f"export format is {exported.get('format')!r}, expected {FORMAT!r}")
    h = np.asarray(z, dtype=np.float32)
    if h.ndim != 2 or h.shape[1] != exported["latent_dim"]:
        raise BrowserDecoderError(f"z must be (B, {exported['latent_dim']}), got {h.shape}")
    for i, (layer, act) in enumerate(zip(exported["layers"], exported["activations"])):
        w = np.frombuffer(base64.b64decode(layer["weight"]), dtype="<f4")
        b = np.frombuffer(base64.b64decode(layer["bias"]), dtype="<f4")
        if w.size != layer["out"] * layer["in"] or b.size != layer["out"]:
            raise BrowserDecoderError(f"layer {i}: {w.size} weights and {b.size} biases do not match "
                                      f"shape ({layer['out']}, {layer['in']})")
        h = h @ w.reshape(layer["out"], layer["in"]).T + b
        if act == "relu":
            h = np.maximum(h, 0.0)
        elif act == "sigmoid":
            h = 1.0 / (1.0 + np.exp(-h))
        else:
            raise BrowserDecoderError(f"layer {i}: unknown activation {act!r}")
    return h.astype(np.float32)
