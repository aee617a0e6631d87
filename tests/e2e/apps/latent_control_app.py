"""A tiny app that shows the latent control on a model, for tests/e2e/test_latent_control.py and
bench/ui_drag.py.

    streamlit run tests/e2e/apps/latent_control_app.py       # then open ?arch=mlp or ?arch=conv

The model is built from a fixed seed (no training, no files): an MLP (20 -> 400 -> 784) or a conv
decoder (?arch=conv small, ?arch=conv-mnist the size of the README's MNIST conv model), both
decoded in the browser (?decode=server: on the server). LATENT_CONTROL_CHECKPOINT=path
loads a checkpoint instead. The last layer is scaled up so that images have contrast, which makes every
slider move visible in the pixels.
"""

from __future__ import annotations

import json
import os

import numpy as np
import streamlit as st
import torch

from vae import VAE, ModelConfig, load_model
from vae.ui.components.latent_control import latent_control


def make_demo_model(arch: str) -> VAE:
    """The app's model, rebuilt identically in the tests to compare against model.decode."""
    path = os.environ.get("LATENT_CONTROL_CHECKPOINT")
    if path:
        return load_model(path).eval()
    torch.manual_seed(0)
    if arch == "mlp":
        model = VAE(ModelConfig(arch="mlp", latent_dim=20, hidden=(400,), image_size=28))
        last = model.decoder.net[-1]
    elif arch == "conv":
        model = VAE(ModelConfig(arch="conv", latent_dim=8, hidden=(128,), conv_channels=(16, 32), image_size=28))
        last = model.decoder.deconvs[-1]
    else:  # "conv-mnist": the size of the README's MNIST conv model (1.66 M decoder weights), for the bench
        model = VAE(ModelConfig(arch="conv", latent_dim=32, hidden=(512,), conv_channels=(32, 64), image_size=28))
        last = model.decoder.deconvs[-1]
    with torch.no_grad():
        last.weight.mul_(6.0)
    return model.eval()


build_model = st.cache_resource(make_demo_model)


def remember(z: np.ndarray) -> None:
    st.session_state.z = z
    st.session_state.commits += 1


def plain_slider_baseline(model: VAE) -> None:
    """?baseline=1: st.slider + st.image, the plain-widget way (for bench/ui_drag.py)."""
    st.title("st.slider baseline")
    v = st.slider("z0", -3.0, 3.0, 0.0, 0.01, key="baseline_z0")
    z = torch.zeros(1, model.config.latent_dim)
    z[0, 0] = v
    with torch.inference_mode():
        image = model.decode(z)[0].permute(1, 2, 0).squeeze(-1).numpy()
    st.image(image, width=196, clamp=True)


def main() -> None:
    st.set_page_config(page_title="latent control", layout="wide")
    threads = os.environ.get("LATENT_CONTROL_TORCH_THREADS")  # bench/ui_drag.py: server decode, 1 thread
    if threads and torch.get_num_threads() != int(threads):
        torch.set_num_threads(int(threads))
    arch = st.query_params.get("arch", "mlp")
    model = build_model(arch)
    D = model.config.latent_dim
    if st.session_state.get("arch") != arch + st.query_params.get("decode", "auto"):
        st.session_state.arch = arch + st.query_params.get("decode", "auto")
        st.session_state.z = np.zeros(D, dtype=np.float32)
        st.session_state.commits = 0

    if st.query_params.get("baseline"):
        plain_slider_baseline(model)
        return
    kl = np.linspace(3.0, 0.0, D)
    st.title(f"Latent control ({arch})")
    z = latent_control(model, st.session_state.z, key="lc", kl_per_dim=kl, inactive=kl < 0.3,
                       pad_dims=(0, 1), on_change=remember, decode_in=st.query_params.get("decode", "auto"))
    st.session_state.z = z
    # z before the commit count: Streamlit replaces a run's elements one by one, so a test that sees
    # "commits: N" must find the z of that same run already drawn above it, never the previous run's
    st.code(json.dumps([round(float(v), 4) for v in z]), language=None)
    st.markdown(f"commits: **{st.session_state.commits}**")
    if st.button("Set z to 0.5"):
        st.session_state.z = np.full(D, 0.5, dtype=np.float32)
        st.rerun()


if __name__ == "__main__":  # streamlit run executes the script as __main__; tests import make_demo_model
    main()
