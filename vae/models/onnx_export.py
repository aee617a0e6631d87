"""Export a model to an ONNX pair (encoder.onnx, decoder.onnx, vae.json) that OnnxVAE runs.

    python -m vae export-onnx runs/x out/       # the project's own checkpoints (and outside models)

Uses torch's TorchScript-based exporter (`dynamo=False`): it needs no onnxscript and installs nothing
beside `onnx`. Opset 17, float32, a dynamic batch axis "B". The decoder's output follows the protocol:
logits for a Bernoulli likelihood; for a Gaussian one the mean and a log-sigma broadcastable to it.
`export_onnx` then runs both graphs with onnxruntime on a probe batch and reports the largest difference from
the torch model, absolute (`max_abs_diff`) and relative to max(1, |value|) (`max_scaled_diff`, which the CLI
checks against 1e-5).
"""

from __future__ import annotations

import io
import json
import math
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from vae.models.onnx_check import DECODER_FILE, ENCODER_FILE, META_FILE

OPSET = 17


def protocol_decode(model: nn.Module, z: torch.Tensor):
    """The protocol's decoder output for z (B, D) of our VAE or a ProtocolVAE: logits, or (mean, log_sigma)."""
    from vae.models.protocol import ProtocolVAE

    if isinstance(model, ProtocolVAE):
        out, log_sigma = model._mean_and_log_sigma(z)
        return out if log_sigma is None else (out, log_sigma)
    logits = model.decode_logits(z)
    if model.config.likelihood == "bernoulli":
        return logits
    if model.log_sigma is not None:
        log_sigma = model.log_sigma.reshape(1, 1, 1, 1)
    else:
        log_sigma = torch.full((1, 1, 1, 1), math.log(model.config.gaussian_sigma), dtype=logits.dtype)
    return torch.sigmoid(logits), log_sigma


class _Encoder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        mu, logvar = self.model.encode(x)
        return mu, logvar


class _Decoder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z):
        return protocol_decode(self.model, z)


def _export(module: nn.Module, example: torch.Tensor, in_name: str, out_names: list[str]) -> bytes:
    buf = io.BytesIO()
    axes = {in_name: {0: "B"}, **{n: {0: "B"} for n in out_names if n != "log_sigma"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buf, dynamo=False, opset_version=OPSET, input_names=[in_name],
                          output_names=out_names, dynamic_axes=axes, do_constant_folding=True)
    return buf.getvalue()


def _export_graphs(model: nn.Module, encoder: bool = True) -> tuple[bytes | None, bytes]:
    """(encoder.onnx or None, decoder.onnx) bytes of `model` (on the CPU, eval mode)."""
    c = model.config
    model = model.to("cpu").eval()
    ConvDecoderLayout = getattr(getattr(model, "decoder", None), "cpu_channels_last", None)
    if ConvDecoderLayout:                        # the channels-last hint is a runtime layout, not part of the graph
        type(model.decoder).cpu_channels_last = False
    try:
        x = torch.rand(2, *c.image_shape)
        z = torch.randn(2, c.latent_dim)
        gaussian = c.likelihood == "gaussian" and isinstance(protocol_decode(model, z), tuple)
        # wrappers in eval mode: the exporter restores a wrapper's mode afterwards, recursively (train mode
        # would then let batch norm update its running statistics on the next forward)
        enc = _export(_Encoder(model).eval(), x, "x", ["mu", "logvar"]) if encoder else None
        dec = _export(_Decoder(model).eval(), z, "z", ["mean", "log_sigma"] if gaussian else ["logits"])
    finally:
        if ConvDecoderLayout:
            type(model.decoder).cpu_channels_last = True
    return enc, dec


def decoder_onnx(model: nn.Module) -> bytes:
    """decoder.onnx of `model` alone (as in `onnx_files`): input "z" (B, D) float32; first output "logits"
    (Bernoulli) or "mean" (Gaussian), (B, C, H, W) float32. Used to decode in the browser (onnxruntime-web)."""
    return _export_graphs(model, encoder=False)[1]


def onnx_files(model: nn.Module) -> dict[str, bytes]:
    """The three files (name -> bytes) of `model` (our VAE, or any ProtocolVAE backed by torch modules)."""
    c = model.config
    enc, dec = _export_graphs(model)
    meta = {"format": "vae-explorer-onnx/1", "latent_dim": int(c.latent_dim), "image_shape": list(c.image_shape),
            "likelihood": c.likelihood}
    info = getattr(model, "checkpoint_info", None) or {}
    dataset = (info.get("dataset") or {}).get("name") or (info.get("train") or {}).get("dataset")
    if isinstance(dataset, str) and not dataset.startswith("folder:"):
        meta["dataset"] = dataset        # a hint for the app's data set choice (a name, never a path)
    return {ENCODER_FILE: enc, DECODER_FILE: dec, META_FILE: json.dumps(meta, indent=1).encode()}


@torch.inference_mode()
def export_differences(model: nn.Module, files: dict[str, bytes], n: int = 16, seed: int = 0) -> dict[str, float]:
    """|onnxruntime - torch| over mu, logvar of n random images and the decoder output of n prior points:
    {"max_abs_diff": largest absolute difference, "max_scaled_diff": largest |a - b| / max(1, |a|)} (float32
    logits of size 50 carry rounding of a few 1e-6 in absolute terms, whatever the exporter does)."""
    from vae.models.onnx_model import load_onnx

    model.eval()
    onnx_model = load_onnx(files, where="export")
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((n, *model.config.image_shape), generator=g)
    z = torch.randn((n, model.config.latent_dim), generator=g)
    ours, theirs = protocol_decode(model, z), onnx_model._decode(z)
    pairs = [*zip(model.encode(x), onnx_model.encode(x)),
             *zip(ours if isinstance(ours, tuple) else (ours,), theirs if isinstance(theirs, tuple) else (theirs,))]
    worst_abs = worst_scaled = 0.0
    for a, b in pairs:
        a = a.expand_as(b)
        d = (a - b).abs()
        worst_abs = max(worst_abs, float(d.max()))
        worst_scaled = max(worst_scaled, float((d / a.abs().clamp(min=1.0)).max()))
    return {"max_abs_diff": worst_abs, "max_scaled_diff": worst_scaled}


def export_onnx(model: nn.Module, out: str | Path, float16: bool = False) -> dict:
    """Write encoder.onnx, decoder.onnx and vae.json into folder `out` (created); returns
    {"out", "files": {name: size}, "max_abs_diff", "max_scaled_diff", "decoder_dtype"} after running the export
    with onnxruntime. float16: decoder.onnx keeps float32 input, output and arithmetic but stores its weights as
    float16 (vae.models.onnx_float16, about half the bytes); the float32 graphs are checked as always, and
    "float16_pixel_diff" says how far the float16 decoder's pixels (in [0, 1]) are from theirs over 64 prior points."""
    out = Path(out)
    files = onnx_files(model)
    diff = export_differences(model, files)
    extra: dict = {"decoder_dtype": "float32"}
    if float16:
        from vae.models.onnx_float16 import float16_weights, pixel_difference

        small = float16_weights(files[DECODER_FILE])
        c = model.config
        extra = {"decoder_dtype": "float16" if small is not files[DECODER_FILE] else "float32",
                 "float16_pixel_diff": pixel_difference(files[DECODER_FILE], small, int(c.latent_dim),
                                                        "sigmoid" if c.likelihood == "bernoulli" else "clamp")}
        files[DECODER_FILE] = small
    out.mkdir(parents=True, exist_ok=True)
    from vae.safeio.durable import atomic_write_bytes

    for name, data in files.items():
        atomic_write_bytes(out / name, data)
    return {"out": str(out), "files": {k: len(v) for k, v in files.items()}, **diff, **extra}
