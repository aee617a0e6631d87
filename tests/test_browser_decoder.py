"""vae.browser_decoder: the decoder's export for the browser (MLP and conv), and the latent control's Python side.

The JavaScript decoder itself is checked against model.decode in Chromium
(tests/e2e/test_latent_control.py); here: the export format, its bytes, its hash, and refusals.
"""

from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pytest
import torch

from vae import VAE, ModelConfig
from vae.browser_decoder import (FORMAT, BrowserDecoderError, browser_refusal, can_decode_in_browser,
                                 decode_exported, export_decoder, export_mlp_decoder, mlp_decoder_layers)
from tests.waits import HANG_S


def mlp(latent_dim=6, hidden=(32,), image_size=8, channels=1, seed=0) -> VAE:
    torch.manual_seed(seed)
    return VAE(ModelConfig(arch="mlp", latent_dim=latent_dim, hidden=hidden, image_size=image_size,
                           channels=channels)).eval()


@pytest.mark.parametrize("hidden,channels", [((32,), 1), ((48, 24), 1), ((16,), 3)])
def test_export_decodes_like_model_decode(hidden, channels):
    model = mlp(hidden=hidden, channels=channels)
    exported = json.loads(json.dumps(export_mlp_decoder(model)))  # survives JSON, as sent to the browser
    assert exported["format"] == FORMAT
    assert exported["image_shape"] == [channels, 8, 8]
    widths = [6, *reversed(hidden), channels * 64]
    assert [(layer["in"], layer["out"]) for layer in exported["layers"]] == list(zip(widths[:-1], widths[1:]))
    assert [layer["act"] for layer in exported["layers"]] == ["relu"] * len(hidden) + ["sigmoid"]
    z = torch.randn(16, 6, generator=torch.Generator().manual_seed(1)) * 2
    with torch.inference_mode():
        want = model.decode(z).reshape(16, -1).numpy()
    got = decode_exported(exported, z.numpy())
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_weights_are_float32_little_endian_row_major_like_torch():
    model = mlp()
    exported = export_mlp_decoder(model)
    first = model.decoder.net[0]
    raw = base64.b64decode(exported["layers"][0]["weight"])
    assert len(raw) == 4 * first.weight.numel()
    # element [1, 2] of the (out, in) matrix sits at 1 * in + 2
    (value,) = struct.unpack_from("<f", raw, 4 * (1 * first.in_features + 2))
    assert value == first.weight[1, 2].item()
    (bias0,) = struct.unpack_from("<f", base64.b64decode(exported["layers"][0]["bias"]), 0)
    assert bias0 == first.bias[0].item()


def test_hash_identifies_the_weights():
    a, b = export_mlp_decoder(mlp(seed=0)), export_mlp_decoder(mlp(seed=0))
    assert a["hash"] == b["hash"] and len(a["hash"]) == 16
    model = mlp(seed=0)
    with torch.no_grad():
        model.decoder.net[-1].bias[3] += 1e-3
    assert export_mlp_decoder(model)["hash"] != a["hash"]
    assert export_mlp_decoder(mlp(seed=1))["hash"] != a["hash"]


# every architecture the library builds: 28/32/64 px, 1 or 3 channels, ReLU or tanh, Bernoulli or Gaussian
CONV_CASES = [dict(image_size=28, channels=1, conv_channels=(32, 64), hidden=(64,)),
              dict(image_size=32, channels=3, conv_channels=(8, 16), hidden=(32,), activation="tanh"),
              dict(image_size=64, channels=3, conv_channels=(8, 8, 16), hidden=(32,), likelihood="gaussian"),
              dict(image_size=28, channels=1, conv_channels=(16,), hidden=(32, 16), activation="tanh",
                   likelihood="gaussian", gaussian_sigma=None)]


def conv(seed=0, latent_dim=5, **kw) -> VAE:
    torch.manual_seed(seed)
    return VAE(ModelConfig(arch="conv", latent_dim=latent_dim, **kw)).eval()


@pytest.mark.parametrize("kw", CONV_CASES, ids=lambda kw: f"{kw['image_size']}px-{kw['channels']}ch-"
                         f"{kw.get('activation', 'relu')}-{kw.get('likelihood', 'bernoulli')}")
def test_conv_export_decodes_like_model_decode(kw):
    model = conv(**kw)
    assert can_decode_in_browser(model)
    exported = json.loads(json.dumps(export_decoder(model)))
    ops = [layer["op"] for layer in exported["layers"]]
    n_fc = len(kw["hidden"]) + 1
    assert ops == ["linear"] * n_fc + ["reshape"] + ["deconv"] * len(kw["conv_channels"])
    # the fc stack ends in the ReLU of ConvDecoder.forward; deconvs have ReLUs between; sigmoid last
    acts = [layer["act"] for layer in exported["layers"]]
    assert acts[n_fc - 1] == "relu" and acts[-1] == "sigmoid" and set(acts[n_fc + 1:-1]) <= {"relu"}
    assert exported["layers"][-1]["out_size"] == [kw["image_size"]] * 2
    assert exported["weight_bytes"] == 4 * sum(p.numel() for p in model.decoder.parameters())
    g = torch.Generator().manual_seed(1)
    z = torch.cat([torch.randn(8, 5, generator=g) * 2, torch.full((1, 5), 4.0), torch.full((1, 5), -4.0)])
    with torch.inference_mode():
        want = model.decode(z).reshape(len(z), -1).numpy()
    np.testing.assert_allclose(decode_exported(exported, z.numpy()), want, atol=1e-5)


def test_tanh_mlps_decode_in_the_browser_too():
    tanh = VAE(ModelConfig(latent_dim=2, hidden=(16, 8), image_size=8, activation="tanh")).eval()
    exported = export_decoder(tanh)
    assert [layer["act"] for layer in exported["layers"]] == ["tanh", "tanh", "sigmoid"]
    z = torch.randn(4, 2) * 3
    with torch.inference_mode():
        want = tanh.decode(z).reshape(4, -1).numpy()
    np.testing.assert_allclose(decode_exported(exported, z.numpy()), want, atol=1e-6)
    assert export_mlp_decoder is export_decoder


def test_unexpected_layers_are_refused():
    model = mlp()
    model.decoder.net[1] = torch.nn.GELU()
    with pytest.raises(BrowserDecoderError, match=r"decoder.net\[1\] is GELU, expected ReLU or Tanh"):
        mlp_decoder_layers(model)
    assert not can_decode_in_browser(model)   # so the Decode page decodes it on the server
    c = conv(**CONV_CASES[1])
    c.decoder.deconvs[1] = torch.nn.Sigmoid()
    assert "deconvs[1] is Sigmoid, expected ReLU" in browser_refusal(c)


def test_oversized_decoders_stay_on_the_server(monkeypatch):
    import vae.browser_decoder as bd

    model = conv(**CONV_CASES[0])
    monkeypatch.setattr(bd, "MAX_BROWSER_WEIGHT_BYTES", 1000)
    assert "over the 0 MiB a browser is sent" in browser_refusal(model)
    with pytest.raises(BrowserDecoderError, match="decoded on the server instead"):
        export_decoder(model)


def test_a_damaged_export_is_refused():
    exported = export_mlp_decoder(mlp())
    exported["layers"][1]["weight"] = base64.b64encode(b"\0" * 8).decode()
    with pytest.raises(BrowserDecoderError, match="layer 1: 2 values, expected"):
        decode_exported(exported, np.zeros((1, 6), np.float32))
    with pytest.raises(BrowserDecoderError, match=r"z must be \(B, 6\)"):
        decode_exported(export_mlp_decoder(mlp()), np.zeros((1, 5), np.float32))


# ---- the Streamlit side (vae/ui/latent_control), without a browser -------------------------------
def _app(arch: str, bad: str = "") -> None:
    import numpy as np
    import torch

    from vae import VAE, ModelConfig
    from vae.ui.components.latent_control import latent_control

    torch.manual_seed(0)
    if arch == "mlp":
        model = VAE(ModelConfig(arch="mlp", latent_dim=4, hidden=(16,), image_size=8))
    else:
        model = VAE(ModelConfig(arch="conv", latent_dim=4, hidden=(16,), conv_channels=(4, 8), image_size=28))
    kwargs = ({"z": np.zeros(3)} if bad == "z" else {"pad_dims": (1, 1)} if bad == "pad" else
              {"decode_in": "server"} if bad == "server" else {})
    import streamlit as st

    try:
        z = latent_control(model, key="lc", kl_per_dim=[0.5, 2.0, 0.0, 1.0], **kwargs)
    except ValueError as e:      # visitors see only an exception's type (client.showErrorDetails = "type")
        st.error(f"refused: {e}")
        return

    st.write(f"returned {np.round(z, 3).tolist()}")


def _component_data(at) -> dict:
    (element,) = at.get("bidi_component")
    from vae.ui.components.latent_control import unpack_payload

    return unpack_payload(element.proto.bytes)[0]   # the latent control sends a binary payload: header + blob


def test_component_sends_mlp_weights_once_per_session():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_app, args=("mlp",)).run(timeout=HANG_S)
    assert not at.exception
    assert at.markdown[-1].value == "returned [0.0, 0.0, 0.0, 0.0]"
    data = _component_data(at)
    assert data["mode"] == "browser" and data["z"] == [0.0] * 4
    assert data["dims"] == [1, 3, 0, 2]  # by KL, largest first
    assert data["labels"][1] == "z2 \u00b7 KL 2.00 nats" and data["pad_dims"] == [1, 3]
    assert data["weights"]["hash"] == data["weights_hash"]
    at.run(timeout=HANG_S)
    again = _component_data(at)
    assert "weights" not in again and again["weights_hash"] == data["weights_hash"]


def test_component_sends_conv_weights_to_the_browser():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_app, args=("conv",)).run(timeout=HANG_S)
    assert not at.exception
    data = _component_data(at)
    assert data["mode"] == "browser" and data["weights"]["format"] == FORMAT
    assert [layer["op"] for layer in data["weights"]["layers"]] == ["linear", "linear", "reshape", "deconv", "deconv"]


def test_component_decodes_on_the_server_when_asked():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_app, args=("conv", "server")).run(timeout=HANG_S)
    assert not at.exception
    data = _component_data(at)
    assert data["mode"] == "server" and "weights" not in data
    pixels = np.frombuffer(base64.b64decode(data["image"]), dtype=np.uint8)
    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="conv", latent_dim=4, hidden=(16,), conv_channels=(4, 8), image_size=28))
    with torch.inference_mode():
        want = model.decode(torch.zeros(1, 4)).reshape(-1).numpy()
    assert pixels.shape == (784,)
    assert np.abs(pixels / 255.0 - want).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("bad,message", [("z", "expected a latent point of 4 values, got shape (3,)"),
                                         ("pad", "pad_dims: expected two different dimensions")])
def test_component_refuses_bad_arguments(bad, message):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_app, args=("mlp", bad)).run(timeout=HANG_S)
    assert not at.exception and any(e.value.startswith("refused: ") and message in e.value for e in at.error)
