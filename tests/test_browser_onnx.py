"""What the latent control sends a browser (issue 22): decoder.onnx for decoders the hand-written JavaScript
decoder cannot run (vae.browser_onnx), and the hand-written decoder's weights as raw bytes (float16 where
parity within 1/255 holds). The browser's side of both: tests/e2e/test_onnx_decode.py, test_latent_control.py."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
import torch

from vae import VAE, ModelConfig
from vae.browser_decoder import decode_exported, export_decoder_binary, float16_parity
from vae.browser_onnx import decode_onnx_export, onnx_decoder_export
from vae.models import load_outside

SPEC = str(Path(__file__).resolve().parent / "outside_vaes.py")
HANG_S = 120


@pytest.mark.parametrize("fn,transform", [("build_conv", "sigmoid"), ("build_gaussian", "clamp"),
                                          ("build_mlp", "sigmoid")])
def test_onnx_export_decodes_as_model_decode(fn, transform):
    """decoder.onnx + the export's transform (sigmoid of logits; the Gaussian mean clamped) = model.decode."""
    model = load_outside(f"{SPEC}:{fn}")
    exp = onnx_decoder_export(model, "float32")
    assert exp["transform"] == transform and exp["onnx_bytes"] == len(exp["onnx"]) > 0 and exp["dtype"] == "float32"
    z = torch.randn(16, model.config.latent_dim, generator=torch.Generator().manual_seed(1)) * 2
    with torch.inference_mode():
        want = model.decode(z).reshape(16, -1).numpy()
    assert np.abs(decode_onnx_export(exp, z.numpy()) - want).max() < 1e-5
    assert onnx_decoder_export(model, "float32")["hash"] == exp["hash"]          # a stable cache key


@pytest.mark.parametrize("fn", ["build_conv", "build_gaussian", "build_mlp"])
def test_auto_sends_float16_weights_within_one_grey_level(fn):
    """dtype "auto" (the app's default): decoder.onnx with float16 weights, about half the bytes, every pixel
    within 1/255 of the float32 graph's and of model.decode; another hash than the float32 export's."""
    model = load_outside(f"{SPEC}:{fn}")
    full, half = onnx_decoder_export(model, "float32"), onnx_decoder_export(model)
    assert half["dtype"] == "float16" and 0 < half["pixel_diff"] <= 1 / 255
    assert half["onnx_bytes"] < 0.6 * full["onnx_bytes"] and half["hash"] != full["hash"]
    z = torch.randn(32, model.config.latent_dim, generator=torch.Generator().manual_seed(2)) * 2
    with torch.inference_mode():
        want = model.decode(z).reshape(32, -1).numpy()
    got = decode_onnx_export(half, z.numpy())
    assert 0 < np.abs(got - decode_onnx_export(full, z.numpy())).max() <= 1 / 255
    assert np.abs(got - want).max() <= 1 / 255


def test_auto_keeps_float32_weights_beyond_one_grey_level(monkeypatch):
    model = load_outside(f"{SPEC}:build_mlp")
    with torch.no_grad():                     # logits no float16 weight can hold to a grey level
        model.inner.fc4.weight.mul_(3000.0).add_(1e-3)
    exp = onnx_decoder_export(model)
    assert exp["dtype"] == "float32" and exp["pixel_diff"] == 0.0
    assert onnx_decoder_export(model, "float16")["pixel_diff"] > 1 / 255     # asked for: sent, and how far
    monkeypatch.setenv("VAE_BROWSER_ONNX_DTYPE", "float32")                   # the bench's "before"
    assert onnx_decoder_export(load_outside(f"{SPEC}:build_mlp"))["dtype"] == "float32"


def test_onnx_export_of_the_projects_own_conv_model():
    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="conv", latent_dim=4, hidden=(16,), conv_channels=(4, 8), image_size=28)).eval()
    exp = onnx_decoder_export(model, "float32")
    z = torch.randn(8, 4)
    with torch.inference_mode():
        want = model.decode(z).reshape(8, -1).numpy()
    assert np.abs(decode_onnx_export(exp, z.numpy()) - want).max() < 1e-5


def _as_json_export(header: dict, blob: bytes) -> dict:
    """A binary export back in the JSON form (base64 float32) that decode_exported reads."""
    dt = "<f2" if header["dtype"] == "float16" else "<f4"
    layers = []
    for layer in header["layers"]:
        layer = dict(layer)
        for k in ("weight", "bias"):
            if k in layer:
                at, n = layer[k]
                vals = np.frombuffer(blob, dtype=dt, count=n, offset=at).astype("<f4")
                layer[k] = base64.b64encode(vals.tobytes()).decode()
        layers.append(layer)
    return {**header, "layers": layers}


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float16", 1 / 255)])
def test_binary_weights_decode_as_model_decode(dtype, tol):
    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="conv", latent_dim=4, hidden=(16,), conv_channels=(4, 8), image_size=28)).eval()
    header, blob = export_decoder_binary(model, dtype)
    n_weights = sum(p.numel() for p in model.decoder.parameters())
    assert header["dtype"] == dtype and header["weight_bytes"] == len(blob)
    assert len(blob) <= n_weights * (2 if dtype == "float16" else 4) + 4 * 2 * len(header["layers"])
    z = torch.randn(8, 4)
    with torch.inference_mode():
        want = model.decode(z).reshape(8, -1).numpy()
    assert np.abs(decode_exported(_as_json_export(header, blob), z.numpy()) - want).max() <= tol


def test_auto_picks_float16_only_within_one_grey_level():
    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="mlp", latent_dim=4, hidden=(16,), image_size=8)).eval()
    header, _ = export_decoder_binary(model)
    assert (header["dtype"] == "float16") == (float16_parity(model) <= 1 / 255)
    with torch.no_grad():                     # weights no float16 can hold to a grey level: float32
        model.decoder.net[-1].weight.mul_(3000.0).add_(1e-3)
    assert float16_parity(model) > 1 / 255
    assert export_decoder_binary(model)[0]["dtype"] == "float32"


def _outside_app(spec: str) -> None:
    from vae.models import load_outside
    from vae.ui.components.latent_control import decode_mode_note, latent_control

    model = load_outside(spec)
    latent_control(model, key="lc")
    import streamlit as st

    st.caption(decode_mode_note(model, "lc"))


def test_component_sends_decoder_onnx_once_for_an_outside_model():
    from streamlit.testing.v1 import AppTest

    from vae.ui.components.latent_control import unpack_payload

    at = AppTest.from_function(_outside_app, args=(f"{SPEC}:build_conv",)).run(timeout=HANG_S)
    assert not at.exception

    def payload():
        (element,) = at.get("bidi_component")
        return unpack_payload(element.proto.bytes)

    data, blob = payload()
    assert data["mode"] == "onnx" and data["onnx"]["hash"] == data["weights_hash"]
    at_, n = data["onnx"]["at"]
    assert n == data["onnx"]["onnx_bytes"] and len(blob) >= at_ + n and blob[at_:at_ + 4] != b""
    assert data["ort_base"].endswith("/component/vae.ui.components.latent_control.ort_runtime/")
    assert "onnxruntime-web" in at.caption[-1].value
    at.run(timeout=HANG_S)
    again, blob = payload()
    assert "onnx" not in again and blob == b"" and again["weights_hash"] == data["weights_hash"]
