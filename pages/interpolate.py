"""Interpolate: walk from one latent point to another (linearly or on the sphere) and decode each step."""

import numpy as np
import streamlit as st

from vae.analysis.endpoints import distant_typical_pair
from vae.analysis.latent import decode_numpy, encode_dataset, gif_bytes, lerp, prior_samples, slerp, strip_png
from vae.ui import state
from vae.ui.images import grid, show
from vae.ui.components.latent_control.scrubber import path_scrubber
from vae.ui.map.latent_map import map_figure, map_view
from vae.ui.latents import dataset_latents
from vae.ui.sidebar import current_with_model

st.title("Interpolate between two points")
ctx = current_with_model()
lm = ctx.lm
model, D = lm.model, lm.latent_dim
sel = state.selection(lm.id, ctx.dataset_key)
SOURCES = {"data": "a test image (by index)", "map": "the map selection", "prior": "a prior sample",
           "decode": "the current Decode point"}


def kept_number_input(label: str, lo: int, hi: int, default: int, key: str, drawn_last_run: bool) -> int:
    """A number box of an endpoint's source that keeps its value while another source is chosen (state.restore_widget):
    back on this source, the box and the path show the number the person set, never one each."""
    state.restore_widget(key, drawn_last_run, lambda v: lo <= v <= hi)
    if not lo <= st.session_state.get(key, default) <= hi:
        st.session_state.pop(key, None)
    # the default as the widget's own (value=): a browser that missed the run setting a state default shows the
    # widget's declared one (see pages/latent_map.py's WebGL toggle); a restored value in state still wins
    value = st.number_input(label, lo, hi, value=default, key=key)
    state.remember_widget(key, value)
    return value


def endpoint(col, name: str, default_index: int, default_seed: int):
    """Draw the widgets of endpoint `name` in `col`; returns (z (D,) float32, a description) or (None, why)."""
    with col:
        st.markdown(f"**{name}**")
        has_test = ctx.dataset is not None and len(ctx.dataset.test) > 0
        options = [s for s in SOURCES if (s != "data" or has_test) and (s != "map" or ctx.dataset is not None)]
        src = st.selectbox("from", options, format_func=SOURCES.get, key=f"int_src_{name}",
                           label_visibility="collapsed")
        prev, st.session_state[f"_int_src_drawn_{name}"] = st.session_state.get(f"_int_src_drawn_{name}"), src
        if src == "data":
            last = len(ctx.dataset.test) - 1          # a split of one image has only index 0
            i = int(kept_number_input("test image index", 0, last, min(default_index, last),
                                      f"int_idx_{name}_{lm.id[:12]}", drawn_last_run=prev == "data"))
            x = ctx.dataset.test.images[i:i + 1]
            show(x[0], 84)
            return encode_dataset(model, x)[0][0], f"test #{i}"
        if src == "map":
            if sel is None:
                st.caption("Nothing selected on the Latent map page yet.")
                return None, "no map selection"
            if sel.point is not None:
                return sel.point.astype(np.float32), "clicked map location"
            j = 0 if name == "A" or len(sel.indices) == 1 else len(sel.indices) - 1
            split = getattr(ctx.dataset, sel.split)
            i = sel.indices[j]
            show(split.images[i], 84)
            return encode_dataset(model, split.images[i:i + 1])[0][0], f"{sel.split} #{i} (map)"
        if src == "prior":
            seed = int(kept_number_input("seed", 0, 2**31 - 1, default_seed, f"int_seed_{name}",
                                         drawn_last_run=prev == "prior"))
            return prior_samples(model, 1, seed=int(seed))[0][0], f"prior sample, seed {seed}"
        return state.decode_point(lm.id, D), "the Decode point"


def default_endpoints() -> tuple[int, int]:
    """Test indices of two typical images of different classes, far apart in latent space (not #0 and #1,
    which often lie side by side: ten near-identical frames)."""
    lat = dataset_latents(ctx, "test", 2000) if ctx.dataset is not None else None
    if lat is None or len(lat.index) < 2:
        return 0, 1
    i, j = distant_typical_pair(lat.mu, lat.labels)
    return int(lat.index[i]), int(lat.index[j])


ia, ib = default_endpoints()
ca, cb, cc = st.columns([1, 1, 1.4])
za, da = endpoint(ca, "A", ia, 1)
zb, db = endpoint(cb, "B", ib, 2)
with cc:
    method = st.radio("Path", ["slerp", "lerp"], horizontal=True, key="int_method",
                      format_func={"lerp": "linear (lerp)", "slerp": "spherical (slerp)"}.get,
                      help="slerp keeps the norm near the prior's typical shell; lerp cuts through the low-norm middle")
    steps = st.slider("Steps", 2, 30, 10, key="int_steps")


@st.fragment
def scrub(za: np.ndarray, zb: np.ndarray) -> None:
    """Any point between the steps: a slider along the same path, decoded in the browser as it moves."""
    st.subheader("Scrub along the path")
    t = path_scrubber(model, za, zb, method, key=f"int_scrub_{lm.id}")
    st.caption(f"t = {t:.3f} at the last release: z(t) = {'slerp' if method == 'slerp' else 'lerp'} of A and B, "
               "t = 0 is A, t = 1 is B")


def interpolation(za: np.ndarray, zb: np.ndarray, da: str, db: str) -> None:
    """The path from za to zb (each (D,)): its strip, downloads, scrubber and place on the map."""
    path = (slerp if method == "slerp" else lerp)(np.asarray(za, np.float32), np.asarray(zb, np.float32), steps)
    frames = decode_numpy(model, path)                                   # (steps, C, H, W) uint8
    ncol = steps if steps <= 12 else int(np.ceil(steps / np.ceil(steps / 10)))  # rows of at most ~10: frames ~100 px
    show(grid(frames, ncol=ncol, width=1400), display_width="stretch" if ncol >= 6 else ncol * 120,
         caption=f"{da} → {db}, {steps} steps of {method}")
    norms = np.linalg.norm(path, axis=1)
    st.caption("‖z‖ along the path: " + " ".join(f"{v:.2f}" for v in norms)
               + f" (a {D}-d standard normal sample has ‖z‖ ≈ {np.sqrt(D):.2f})")
    scale = int(np.ceil(256 / model.config.image_size))            # downloads at least 256 px a frame: slide-sized
    d1, d2, _ = st.columns([1, 1, 3])
    d1.download_button("Download GIF", data=lambda: gif_bytes(frames, boomerang=True, scale=scale, duration_ms=100),
                       file_name=f"interpolation-{method}.gif", mime="image/gif", on_click="ignore",
                       icon=":material/gif_box:", width="stretch")
    d2.download_button("Download PNG strip", data=lambda: strip_png(frames, scale=scale),
                       file_name=f"interpolation-{method}.png", mime="image/png", on_click="ignore",
                       icon=":material/download:", width="stretch")
    scrub(za, zb)

    if ctx.dataset is not None and len(ctx.dataset.test) >= 2:      # a map of one point has no plane to project on
        st.subheader("The path on the latent map")
        view = map_view(ctx, "test", min(2000, len(ctx.dataset.test)), "latent" if D == 2 else "pca", 2)
        fig, _ = map_figure(view, ctx.dataset, "label", path=view.to_map(path), height=520)
        fig.update_layout(dragmode="pan")
        st.plotly_chart(fig, key="int_map", config={"scrollZoom": True})
        if view.method == "pca":
            st.caption("Drawn on the PCA plane of the test latents: the path is projected, so a straight line stays "
                       "straight but a slerp arc may look shorter than it is.")


# No st.stop() here: a run that stops skips Streamlit's clean-up of the widgets it did not draw (the browser forgets
# them, the server would not), so a missing endpoint draws less instead of stopping (issue 27).
if za is None or zb is None:
    st.info("Choose both endpoints.")
else:
    interpolation(za, zb, da, db)
