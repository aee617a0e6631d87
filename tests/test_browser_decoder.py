"""vae.browser_decoder: the MLP decoder's export for the browser, and the latent control's Python side.

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
from vae.browser_decoder import (FORMAT, BrowserDecoderError, can_decode_in_browser, decode_exported,
                                 export_mlp_decoder, mlp_decoder_layers)


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
    assert [(l["in"], l["out"]) for l in exported["layers"]] == list(zip(widths[:-1], widths[1:]))
    assert exported["activations"] == ["relu"] * len(hidden) + ["sigmoid"]
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


def test_conv_decoders_are_refused_with_a_clear_error():
    torch.manual_seed(0)
    conv = VAE(ModelConfig(arch="conv", latent_dim=4, hidden=(32,), conv_channels=(8, 16), image_size=28))
    assert not can_decode_in_browser(conv)
    with pytest.raises(BrowserDecoderError, match="only MLP decoders run in the browser.*'conv'"):
        export_mlp_decoder(conv)
    assert can_decode_in_browser(mlp())


def test_unexpected_layers_are_refused():
    model = mlp()
    model.decoder.net[1] = torch.nn.Tanh()
    with pytest.raises(BrowserDecoderError, match=r"decoder.net\[1\] is Tanh, expected ReLU"):
        mlp_decoder_layers(model)
    tanh = VAE(ModelConfig(latent_dim=2, hidden=(16,), image_size=8, activation="tanh"))
    assert not can_decode_in_browser(tanh)   # so the Decode page decodes it on the server


def test_a_damaged_export_is_refused():
    exported = export_mlp_decoder(mlp())
    exported["layers"][1]["weight"] = base64.b64encode(b"\0" * 8).decode()
    with pytest.raises(BrowserDecoderError, match="layer 1: 2 weights"):
        decode_exported(exported, np.zeros((1, 6), np.float32))
    with pytest.raises(BrowserDecoderError, match=r"z must be \(B, 6\)"):
        decode_exported(export_mlp_decoder(mlp()), np.zeros((1, 5), np.float32))


# ---- the Streamlit side (vae/ui/latent_control), without a browser -------------------------------
def _app(arch: str, bad: str = "") -> None:
    import numpy as np
    import torch

    from vae import VAE, ModelConfig
    from vae.ui.latent_control import latent_control

    torch.manual_seed(0)
    if arch == "mlp":
        model = VAE(ModelConfig(arch="mlp", latent_dim=4, hidden=(16,), image_size=8))
    else:
        model = VAE(ModelConfig(arch="conv", latent_dim=4, hidden=(16,), conv_channels=(4, 8), image_size=28))
    kwargs = {"z": np.zeros(3)} if bad == "z" else {"pad_dims": (1, 1)} if bad == "pad" else {}
    z = latent_control(model, key="lc", kl_per_dim=[0.5, 2.0, 0.0, 1.0], **kwargs)
    import streamlit as st

    st.write(f"returned {np.round(z, 3).tolist()}")


def _component_data(at) -> dict:
    (element,) = at.get("bidi_component")
    return json.loads(element.proto.json)


def test_component_sends_mlp_weights_once_per_session():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_app, args=("mlp",)).run(timeout=30)
    assert not at.exception
    assert at.markdown[-1].value == "returned [0.0, 0.0, 0.0, 0.0]"
    data = _component_data(at)
    assert data["mode"] == "browser" and data["z"] == [0.0] * 4
    assert data["dims"] == [1, 3, 0, 2]  # by KL, largest first
    assert data["labels"][1] == "z2 \u00b7 KL 2.00 nats" and data["pad_dims"] == [1, 3]
    assert data["weights"]["hash"] == data["weights_hash"]
    at.run(timeout=30)
    again = _component_data(at)
    assert "weights" not in again and again["weights_hash"] == data["weights_hash"]


def test_component_decodes_on_the_server_for_conv():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_app, args=("conv",)).run(timeout=30)
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

    at = AppTest.from_function(_app, args=("mlp", bad)).run(timeout=30)
    assert at.exception and message in at.exception[0].message
