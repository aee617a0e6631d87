"""Widgets that set a latent point: one slider per dimension (swappable for a drag-following component)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from vae.dims import dim_label

Z_RANGE = 4.0      # sliders span [-Z_RANGE, Z_RANGE]
Z_STEP = 0.05
SHOWN_DIMS = 12    # dimensions shown at once; the rest sit in an expander


def slider_key(model_id: str, d: int) -> str:
    return f"dz_{model_id[:16]}_{d}"


def set_controls(model_id: str, z: np.ndarray) -> None:
    """Move the controls to `z` (D,) (call from a callback, before the widgets are drawn)."""
    for d, v in enumerate(np.asarray(z, dtype=np.float64)):
        st.session_state[slider_key(model_id, d)] = float(np.clip(np.round(v / Z_STEP) * Z_STEP, -Z_RANGE, Z_RANGE))


def latent_controls(model_id: str, z: np.ndarray, order: Sequence[int], kl: np.ndarray | None = None,
                    inactive: np.ndarray | None = None, columns: int = 2) -> np.ndarray:
    """One st.slider per latent dimension, in `order` (most informative first); returns the new z (D,).

    `kl` (D,) nats labels each slider; `inactive` (D,) bool marks dimensions the encoder does not use.
    Call inside an st.fragment so that moving a slider reruns only the decoder.
    """
    z = np.asarray(z, dtype=np.float32).copy()
    order = list(order)

    def one(d: int) -> None:
        key = slider_key(model_id, d)
        if key not in st.session_state:
            st.session_state[key] = float(np.clip(round(float(z[d]) / Z_STEP) * Z_STEP, -Z_RANGE, Z_RANGE))
        label = dim_label(d)
        if kl is not None:
            label += f" · KL {kl[d]:.2f}"
        if inactive is not None and inactive[d]:
            label += " · inactive"
        # value=0.0: the declared default a browser that missed the run setting the key falls back to is the
        # prior's mean, not the slider's minimum (see the Latent map's WebGL toggle)
        z[d] = st.slider(label, -Z_RANGE, Z_RANGE, value=0.0, step=Z_STEP, key=key, format="%.2f",
                         help=f"latent dimension {d + 1}" + (
                             ": inactive (the encoder ignores it; the decoder barely responds)"
                             if inactive is not None and inactive[d] else ""))

    dead = [d for d in order if inactive is not None and inactive[d]]
    live = [d for d in order if d not in dead]
    head, tail = live[:SHOWN_DIMS], live[SHOWN_DIMS:]
    cols = st.columns(columns)
    for j, d in enumerate(head):
        with cols[j % columns]:
            one(d)
    for dims, title in ((tail, f"{len(tail)} more dimensions (lower KL)"),
                        (dead, f"{len(dead)} inactive dimension{'s' if len(dead) != 1 else ''}")):
        if dims:
            with st.expander(title):
                cols = st.columns(columns)
                for j, d in enumerate(dims):
                    with cols[j % columns]:
                        one(d)
    return z
