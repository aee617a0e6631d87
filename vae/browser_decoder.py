"""Export a VAE's decoder so a browser can decode latent points itself, in JavaScript.

The latent-control component (vae/ui/latent_control) decodes every animation frame in the browser
from these weights, exactly `VAE.decode` for every decoder the library builds:

- MLP:  Linear -> act -> ... -> Linear -> sigmoid                      (act: ReLU or tanh)
- conv: Linear -> act -> ... -> Linear -> ReLU -> reshape (C, s, s)
        -> ConvTranspose2d -> ReLU -> ... -> ConvTranspose2d -> sigmoid (4x4, stride 2, padding 1)

The sigmoid is the mean link of both likelihoods (Bernoulli probabilities, Gaussian means). Every other
decoder runs in the browser with onnxruntime-web (vae.browser_onnx). Why this hand-written decoder stays for
the library's own models (bench/browser_decode.py, mnist-conv, headless Chromium, two runs of 3 on a shared
machine; the README's table): it needs no runtime (onnxruntime-web adds 14.9 MB of .wasm and JavaScript on a
browser's first visit and 1.1-2.3 s to start its WASM session: cold start 1.25x and 1.61x the hand-written
decoder's 3.1-3.3 s); its weights go as float16 (3.3 MB, as decoder.onnx's float16 weights); during a drag both
draw at most one picture per animation frame, although onnxruntime-web computes one in 0.9-1.0 ms against
2.6-3.6 ms; and its float64 sums match PyTorch to ~1e-6.

The latent control sends `export_decoder_binary` (raw little-endian bytes, float16 where every pixel stays
within 1/255 of float32's); the path scrubber sends the JSON form of `export_decoder`.

The exported form is plain JSON (no Streamlit here):

    {"format": "vae-decoder/2",
     "hash": "<16 hex digits of sha256 over the ops, shapes and bytes>",
     "latent_dim": D, "image_shape": [C, H, W], "weight_bytes": total float32 bytes,
     "layers": [
        {"op": "linear", "in": n_in, "out": n_out, "act": "relu" | "tanh" | "sigmoid" | "none",
         "weight": base64 float32 little-endian (n_out, n_in) row-major (torch's layout),
         "bias": base64 float32 (n_out,)},
        {"op": "reshape", "shape": [C, h, w]},                  # the flat vector is (C, h, w) order
        {"op": "deconv", "in_channels": Ci, "out_channels": Co, "kernel": k, "stride": s, "padding": p,
         "in_size": [h, w], "out_size": [(h-1)s-2p+k, (w-1)s-2p+k], "act": ...,
         "weight": base64 float32 (Ci, Co, k, k) (torch's ConvTranspose2d layout), "bias": (Co,)},
        ...]}

`layers[-1]["act"] == "sigmoid"`; the output vector (C*H*W,) is the image in (C, H, W) order in [0, 1].
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from vae.browser_weights import FORMAT, MAX_BROWSER_WEIGHT_BYTES, BrowserDecoderError, pack_binary
_ACT_NAMES = {nn.ReLU: "relu", nn.Tanh: "tanh"}
ACTS = ("relu", "tanh", "sigmoid", "none")


def _fc_stack(net: Any, where: str) -> list[tuple[nn.Linear, str]]:
    """(Linear, activation after it) for an nn.Sequential of Linear (act Linear)*; the last act is "none"."""
    if not isinstance(net, nn.Sequential) or len(net) == 0:
        raise BrowserDecoderError(f"{where} is not an nn.Sequential of Linear/activation layers")
    out: list[tuple[nn.Linear, str]] = []
    for i, module in enumerate(net):
        if i % 2 == 0:
            if not isinstance(module, nn.Linear):
                raise BrowserDecoderError(f"{where}[{i}] is {type(module).__name__}, expected Linear")
            out.append((module, "none"))
        else:
            act = _ACT_NAMES.get(type(module))
            if act is None:
                raise BrowserDecoderError(f"{where}[{i}] is {type(module).__name__}, expected ReLU or Tanh; "
                                          "only Linear (activation Linear)* runs in the browser")
            out[-1] = (out[-1][0], act)
    if out[-1][1] != "none" or not isinstance(net[-1], nn.Linear):
        raise BrowserDecoderError(f"{where} must end with a Linear layer")
    return out


def decoder_layers(model: nn.Module) -> list[tuple[str, Any, str]]:
    """The decoder as a list of (op, module or shape, activation after it), checked against what the
    browser runs. Raises BrowserDecoderError naming any layer it cannot run."""
    config = getattr(model, "config", None)
    arch = getattr(config, "arch", None)
    decoder = getattr(model, "decoder", None)
    ops: list[tuple[str, Any, str]] = []
    if arch == "mlp":
        ops += [("linear", lin, act) for lin, act in _fc_stack(getattr(decoder, "net", None), "model.decoder.net")]
    elif arch == "conv":
        fc = _fc_stack(getattr(decoder, "fc", None), "model.decoder.fc")
        fc[-1] = (fc[-1][0], "relu")   # ConvDecoder.forward: F.relu(self.fc(z))
        ops += [("linear", lin, act) for lin, act in fc]
        side, top = int(decoder.side), int(decoder.top_channels)
        ops.append(("reshape", (top, side, side), "none"))
        deconvs = getattr(decoder, "deconvs", None)
        if not isinstance(deconvs, nn.Sequential) or len(deconvs) == 0:
            raise BrowserDecoderError("model.decoder.deconvs is not an nn.Sequential of ConvTranspose2d/ReLU")
        for i, module in enumerate(deconvs):
            if i % 2 == 0:
                ok = (isinstance(module, nn.ConvTranspose2d) and module.groups == 1 and module.dilation == (1, 1)
                      and module.output_padding == (0, 0) and module.bias is not None
                      and module.kernel_size[0] == module.kernel_size[1] and module.stride[0] == module.stride[1]
                      and module.padding[0] == module.padding[1] and isinstance(module.padding, tuple))
                if not ok:
                    raise BrowserDecoderError(f"model.decoder.deconvs[{i}] ({module}) is not a square, ungrouped "
                                              "ConvTranspose2d with a bias; it is decoded on the server instead")
                ops.append(("deconv", module, "none"))
            elif type(module) is nn.ReLU:
                ops[-1] = (ops[-1][0], ops[-1][1], "relu")
            else:
                raise BrowserDecoderError(f"model.decoder.deconvs[{i}] is {type(module).__name__}, expected ReLU")
    elif arch in ("outside", "onnx"):
        raise BrowserDecoderError(f"an {arch} model's decoder is not one the browser's hand-written decoder runs; "
                                  "it is decoded on the server instead")
    else:
        raise BrowserDecoderError(f"unknown decoder architecture {arch!r}; it is decoded on the server instead")
    ops[-1] = (ops[-1][0], ops[-1][1], "sigmoid")   # VAE.decode's mean link
    return ops


def mlp_decoder_layers(model: nn.Module) -> list[nn.Linear]:
    """The Linear layers of an MLP decoder (kept for callers of the first format)."""
    return [m for op, m, _ in decoder_layers(model) if op == "linear"]


def weight_bytes(model: nn.Module) -> int:
    """float32 bytes the browser receives for this decoder (base64 on the wire adds a third)."""
    return 4 * sum(p.numel() for p in model.decoder.parameters())


def browser_refusal(model: nn.Module) -> str | None:
    """Why this model's decoder cannot run in the browser, or None when it can."""
    try:
        decoder_layers(model)
    except BrowserDecoderError as e:
        return str(e)
    size = weight_bytes(model)
    if size > MAX_BROWSER_WEIGHT_BYTES:
        return (f"the decoder's weights are {size / 2**20:.0f} MiB, over the {MAX_BROWSER_WEIGHT_BYTES // 2**20} MiB "
                "a browser is sent; it is decoded on the server instead")
    return None


def can_decode_in_browser(model: nn.Module) -> bool:
    """True when `export_decoder(model)` would succeed."""
    return browser_refusal(model) is None


def _le_float32(t: torch.Tensor) -> bytes:
    return t.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4", copy=False).tobytes()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _export_parts(model: nn.Module) -> tuple[dict[str, Any], list[tuple[dict[str, Any], torch.Tensor | None,
                                                                          torch.Tensor | None]]]:
    """The export's header and its layers as (layer dict without weights, weight, bias) (float32 CPU tensors,
    None for a reshape). Raises BrowserDecoderError when it cannot run in a browser."""
    refusal = browser_refusal(model)
    if refusal is not None:
        raise BrowserDecoderError(refusal)
    config = model.config
    parts: list[tuple[dict[str, Any], torch.Tensor | None, torch.Tensor | None]] = []
    shape: tuple[int, ...] = (config.latent_dim,)
    for op, m, act in decoder_layers(model):
        if op == "linear":
            if shape != (m.in_features,):
                raise BrowserDecoderError(f"linear layer takes {m.in_features} inputs, but gets shape {shape}")
            layer = {"op": op, "in": m.in_features, "out": m.out_features, "act": act}
            shape = (m.out_features,)
        elif op == "reshape":
            if shape != (int(np.prod(m)),):
                raise BrowserDecoderError(f"cannot reshape {shape} to {m}")
            parts.append(({"op": op, "shape": list(m), "act": act}, None, None))
            shape = tuple(m)
            continue
        else:
            ci, h, wd = shape
            k, s, p = m.kernel_size[0], m.stride[0], m.padding[0]
            if ci != m.in_channels:
                raise BrowserDecoderError(f"deconv takes {m.in_channels} channels, gets {ci}")
            out_size = [(h - 1) * s - 2 * p + k, (wd - 1) * s - 2 * p + k]
            layer = {"op": op, "in_channels": m.in_channels, "out_channels": m.out_channels, "kernel": k,
                     "stride": s, "padding": p, "in_size": [h, wd], "out_size": out_size, "act": act}
            shape = (m.out_channels, *out_size)
        parts.append((layer, m.weight.detach().to("cpu", torch.float32), m.bias.detach().to("cpu", torch.float32)))
    n_pixels = int(np.prod(config.image_shape))
    if int(np.prod(shape)) != n_pixels or (len(shape) == 3 and tuple(shape) != tuple(config.image_shape)):
        raise BrowserDecoderError(f"decoder ends in shape {shape}, but the config says {config.image_shape}")
    return {"format": FORMAT, "latent_dim": config.latent_dim, "image_shape": list(config.image_shape)}, parts


def export_decoder(model: nn.Module) -> dict[str, Any]:
    """The decoder of a VAE (MLP or conv) as a JSON-ready dict (see the module docstring).

    About 1.3x its float32 bytes as JSON (base64): 1.8 MB for a 20-400-784 MLP, 8.8 MB for the
    32-512-(64x7x7)-32-1 MNIST conv decoder. Raises BrowserDecoderError when it cannot run in a browser.
    The latent control sends `export_decoder_binary` instead (raw bytes); the path scrubber sends this.
    """
    header, parts = _export_parts(model)
    digest = hashlib.sha256(FORMAT.encode())
    layers, total = [], 0
    for layer, w, b in parts:
        wb, bb = (_le_float32(w), _le_float32(b)) if w is not None else (b"", b"")
        digest.update(repr(sorted(layer.items())).encode())
        digest.update(wb)
        digest.update(bb)
        if w is not None:
            layer = {**layer, "weight": _b64(wb), "bias": _b64(bb)}
            total += len(wb) + len(bb)
        layers.append(layer)
    return {**header, "hash": digest.hexdigest()[:16], "weight_bytes": total, "layers": layers}


def float16_parity(model: nn.Module, n: int = 64, seed: int = 0) -> float:
    """Largest |decode with float16-rounded decoder weights - decode| over n prior points (pixel values in
    [0, 1]); the weights may travel as float16 when this is within 1/255 (one grey level)."""
    import copy

    twin = copy.deepcopy(model).to("cpu").eval()
    with torch.no_grad():
        for p in twin.decoder.parameters():
            p.copy_(p.to(torch.float16).to(torch.float32))
        z = torch.randn(n, model.config.latent_dim, generator=torch.Generator().manual_seed(seed)) * 1.5
        return float((twin.decode(z) - model.to("cpu").eval().decode(z)).abs().max())


def export_decoder_binary(model: nn.Module, dtype: str = "auto") -> tuple[dict[str, Any], bytes]:
    """The export as (header, blob): the header is `export_decoder`'s dict with each layer's "weight" and
    "bias" as [byte offset, value count] into `blob` (little-endian, no base64), and "dtype": "float32" or
    "float16". dtype "auto": float16 when `float16_parity(model)` <= 1/255, else float32. Half the bytes
    of float32 (a third of the JSON) for float16: 3.3 MB instead of 8.8 MB of JSON for the MNIST conv decoder.
    """
    if dtype == "auto":
        dtype = "float16" if float16_parity(model) <= 1.0 / 255.0 else "float32"
    header, parts = _export_parts(model)
    return pack_binary(header, [(layer, None if w is None else w.contiguous().numpy(),
                                 None if b is None else b.contiguous().numpy()) for layer, w, b in parts], dtype)


export_mlp_decoder = export_decoder   # the first format's name; every architecture now


def _floats(s: str, n: int, what: str) -> np.ndarray:
    a = np.frombuffer(base64.b64decode(s), dtype="<f4")
    if a.size != n:
        raise BrowserDecoderError(f"{what}: {a.size} values, expected {n}")
    return a


def _act(h: np.ndarray, act: str, i: int) -> np.ndarray:
    if act == "relu":
        return np.maximum(h, 0.0)
    if act == "tanh":
        return np.tanh(h)
    if act == "sigmoid":
        return 1.0 / (1.0 + np.exp(-h))
    if act == "none":
        return h
    raise BrowserDecoderError(f"layer {i}: unknown activation {act!r}")


def _deconv(x: np.ndarray, w: np.ndarray, b: np.ndarray, k: int, s: int, p: int) -> np.ndarray:
    """Transposed convolution by scattering: x (B, Ci, h, w), w (Ci, Co, k, k) -> (B, Co, H, W)."""
    n, _, h, wd = x.shape
    full = np.zeros((n, w.shape[1], (h - 1) * s + k, (wd - 1) * s + k), dtype=np.float64)
    for ky in range(k):
        for kx in range(k):
            full[:, :, ky:ky + (h - 1) * s + 1:s, kx:kx + (wd - 1) * s + 1:s] += np.einsum(
                "bchw,cd->bdhw", x, w[:, :, ky, kx])
    hh, ww = full.shape[2] - 2 * p, full.shape[3] - 2 * p
    return full[:, :, p:p + hh, p:p + ww] + b[None, :, None, None]


def decode_exported(exported: dict[str, Any], z: np.ndarray) -> np.ndarray:
    """Reference decoder for an export, in NumPy (float64 sums, like the browser's): z (B, D) ->
    (B, C*H*W) float32 in [0, 1].

    Checks that the export round-trips (format, shapes, byte lengths); the browser's JavaScript is
    tested against `model.decode` separately, in Chromium (tests/e2e/test_latent_control.py).
    """
    if exported.get("format") != FORMAT:
        raise BrowserDecoderError(f"export format is {exported.get('format')!r}, expected {FORMAT!r}")
    h = np.asarray(z, dtype=np.float64)
    if h.ndim != 2 or h.shape[1] != exported["latent_dim"]:
        raise BrowserDecoderError(f"z must be (B, {exported['latent_dim']}), got {h.shape}")
    for i, layer in enumerate(exported["layers"]):
        op = layer.get("op")
        if op == "linear":
            w = _floats(layer["weight"], layer["out"] * layer["in"], f"layer {i}")
            b = _floats(layer["bias"], layer["out"], f"layer {i} bias")
            h = h.reshape(len(h), -1) @ w.reshape(layer["out"], layer["in"]).T.astype(np.float64) + b
        elif op == "reshape":
            h = h.reshape(len(h), *layer["shape"])
        elif op == "deconv":
            ci, co, k = layer["in_channels"], layer["out_channels"], layer["kernel"]
            w = _floats(layer["weight"], ci * co * k * k, f"layer {i}").reshape(ci, co, k, k).astype(np.float64)
            b = _floats(layer["bias"], co, f"layer {i} bias").astype(np.float64)
            h = _deconv(h, w, b, k, layer["stride"], layer["padding"])
        else:
            raise BrowserDecoderError(f"layer {i}: unknown op {op!r}")
        h = _act(h, layer.get("act", "none"), i)
    return h.reshape(len(h), -1).astype(np.float32)
