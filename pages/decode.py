"""Decode: move through the latent space one dimension at a time and watch the decoder's image."""

import numpy as np
import streamlit as st

from vae.analysis.latent import (
    decode_numpy,
    log_prior_density,
    nearest_point,
    prior_samples,
    traversal_grid,
)
from vae.dims import dim_label as z_label
from vae.ui import state
from vae.ui.components.latent_control import decode_mode_note, latent_control
from vae.ui.decode import first_picture
from vae.ui.decode.controls import Z_RANGE, Z_STEP, latent_controls, set_controls
from vae.ui.decode.pad import pad_pickers
from vae.ui.images import grid, show
from vae.ui.latents import INACTIVE_KL, dataset_latents, dim_order
from vae.ui.map.neighbours import decode_neighbours
from vae.ui.sidebar import current_with_model

first_picture.title()        # in the slot of a fresh server's first picture, when app.py drew one
ctx = current_with_model()
lm = ctx.lm
model, D = lm.model, lm.latent_dim
lat = dataset_latents(ctx)                      # Latents of the test split, or None without a dataset
kl, order, inactive = dim_order(ctx, lat)


def move_to(z: np.ndarray) -> None:
    state.set_decode_point(lm.id, z)
    set_controls(lm.id, z)


def sample_prior() -> None:
    n = st.session_state.get("dec_prior_draws", 0) + 1
    st.session_state["dec_prior_draws"] = n
    move_to(prior_samples(model, 1, seed=n)[0][0])


def from_index() -> None:
    i = int(st.session_state.get("dec_index", 0))
    x = ctx.dataset.test.images[i:i + 1]
    from vae.analysis.latent import encode_dataset
    move_to(encode_dataset(model, x)[0][0])


def from_selection() -> None:
    sel = state.selection(lm.id)
    if sel is None:
        return
    if sel.point is not None:
        move_to(sel.point)
        return
    split = getattr(ctx.dataset, sel.split)
    from vae.analysis.latent import encode_dataset
    move_to(encode_dataset(model, split.images[sel.indices[0]:sel.indices[0] + 1])[0][0])


sel = state.selection(lm.id, ctx.dataset_key)
sel_label = ("the chosen map location" if sel is not None and sel.point is not None else
             f"map selection ({sel.split} #{sel.indices[0]})" if sel is not None and sel.indices else "map selection")
with st.container(horizontal=True, vertical_alignment="bottom"):
    st.button("Sample from prior", on_click=sample_prior, icon=":material/casino:")
    st.button("Reset to zero", on_click=move_to, args=(np.zeros(D, np.float32),), icon=":material/restart_alt:")
    st.button(f"Start from {sel_label}", on_click=from_selection,
              disabled=sel is None or (sel.point is None and not sel.indices), icon=":material/ads_click:",
              help="Select points on the Latent map page; the first selected point is used.")
    if ctx.dataset is not None:
        st.number_input("Test image index", 0, len(ctx.dataset.test) - 1, value=0, key="dec_index", width=150)
        st.button("Start from test image", on_click=from_index, icon=":material/image:")
    st.toggle("Live decoding while dragging", value=True, key="dec_live",
              on_change=lambda: set_controls(lm.id, state.decode_point(lm.id, D)),
              help="On: the image follows the slider or pad during a drag (the decoder runs in your browser from "
                   "weights sent once; one the browser cannot run is decoded on the server as you move). "
                   "Off: plain sliders that decode on release; the point does not move when you switch.")


# "far from the data": more than half the typical distance of a latent mean from the means' centre
far = (max(0.5, 0.5 * float(np.median(np.linalg.norm(lat.mu - lat.mu.mean(0), axis=1)))) if lat is not None
       else np.inf)


def keep_unmoved(z0: np.ndarray, z_sliders: np.ndarray) -> np.ndarray:
    """The plain sliders hold z rounded to their step: only a slider the user moved may change z, so
    switching live decoding off (or any rerun) never moves the point. (D,) -> (D,) float32."""
    shown = np.clip(np.round(np.asarray(z0, np.float64) / Z_STEP) * Z_STEP, -Z_RANGE, Z_RANGE)
    moved = np.abs(np.asarray(z_sliders, np.float64) - shown) > 1e-4
    return np.where(moved, z_sliders, z0).astype(np.float32)


@st.fragment
def decoder() -> None:
    """The control and everything that follows the point (info line, traversals): a finished drag or
    key press reruns this fragment only, so the traversal grid follows every release."""
    z0 = state.decode_point(lm.id, D)
    if st.session_state.get("dec_live", True):
        # Drag-following control: the decoder runs in the browser every animation frame (the server
        # decodes throttled values when it cannot); a finished drag or key press comes back as the new z.
        key = f"dec_latent_{lm.id}"
        pad = pad_pickers(D, order, dim_label) if D > 2 else (int(order[0]), int(order[1]))
        z = latent_control(model, z0, key=key, dims=order, kl_per_dim=kl, inactive=inactive, pad_dims=pad,
                           value_range=4.0, image_px=336, rerun_app=False)
        state.set_decode_point(lm.id, z)
        st.caption(decode_mode_note(model, key))
        info = st.container()
    else:
        left, right = st.columns([3, 2], gap="large")
        with left:
            z = keep_unmoved(z0, latent_controls(lm.id, z0, order, kl=kl, inactive=inactive))
        state.set_decode_point(lm.id, z)
        with right:
            show(decode_numpy(model, z[None])[0], 336, caption="decoded mean image E[x|z]")   # (C, H, W) uint8
        info = right
    with info:
        where = f"log p(z) = **{float(log_prior_density(z)):.2f}** nats"
        if lat is not None:
            j, dist = nearest_point(z, lat.mu)
            where += f" · nearest encoded test image **{dist:.2f}** away (#{lat.index[j]})"
            if dist > far:
                where += "  \n:orange[far from every encoded image: the decoder is extrapolating here]"
        st.markdown(where, help="log density of the N(0, I) prior at z (at z = 0 it is -D/2 log 2π), and the "
                                "Euclidean distance in latent space to the nearest latent mean of the test images; "
                                "a point far from all of them is outside the data's region")
        decode_neighbours(ctx, lat, z)            # the nearest test images, under the decoded image
    traversals(z)


def dim_label(d: int) -> str:
    label = z_label(d)
    if kl is not None:
        label += f" · KL {kl[d]:.2f}" + (" · inactive" if inactive is not None and inactive[d] else "")
    return label


def traversals(z: np.ndarray) -> None:
    """Traversals from the current point z (D,): one labelled row per chosen dimension."""
    st.subheader("Traversals")
    t1, t2, t3 = st.columns([3, 1, 1])
    active = [int(d) for d in order if inactive is None or not inactive[d]]
    top = (active or [int(d) for d in order])[: min(D, 8)]
    dims = t1.multiselect("Dimensions (rows)", list(range(D)), default=top, format_func=dim_label,
                          key=f"dec_trav_dims_{lm.id}",
                          help="by default the 8 dimensions with the most KL; inactive ones (KL < "
                               f"{INACTIVE_KL} nats) barely change the image")
    steps = t2.slider("Steps", 3, 15, 9, key="dec_trav_steps")
    span = t3.slider("Span (±)", 1.0, 4.0, 3.0, 0.5, key="dec_trav_span")
    if not dims:
        return
    imgs = traversal_grid(model, z, dims=dims, n_steps=steps, span=span)          # (R, S, C, H, W)
    width = min(900, 72 * steps)
    for r, d in enumerate(dims):
        left, right = st.columns([1, 6], vertical_alignment="center")
        left.markdown(f"**{z_label(d)}**" + (f"  \n:gray[KL {kl[d]:.2f}]" if kl is not None else ""))
        show(grid(imgs[r:r + 1], width=width, pad=1), container=right)
    values = ", ".join(f"{v:g}" for v in np.linspace(-span, span, steps).round(2))
    st.caption(f"each row sweeps its dimension through {values} "
               "(left to right), the others held at the current point "
               f"z = [{', '.join(f'{v:.2f}' for v in z[:8])}{', ...' if D > 8 else ''}]")


decoder()
first_picture.replaced()     # the first picture gives way to the page's own control
