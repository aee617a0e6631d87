"""Generate: a grid of images decoded from prior samples z ~ N(0, T^2 I)."""

import streamlit as st

from vae.analysis.latent import image_grid, png_bytes, prior_samples
from vae.ui.images import grid, show
from vae.ui.sidebar import current_with_model

st.title("Generate from the prior")
ctx = current_with_model()
lm = ctx.lm

c1, c2, c3, c4 = st.columns([1, 1.4, 1, 1], vertical_alignment="bottom")
side = c1.select_slider("Grid", [4, 6, 8, 10, 12, 16], value=8, key="gen_side", format_func=lambda s: f"{s}x{s}")
temperature = c2.slider("Temperature", 0.0, 2.0, 1.0, 0.05, key="gen_temp",
                        help="z ~ N(0, T² I): below 1 the samples are more typical, above 1 more varied (and stranger)")
st.session_state.setdefault("gen_seed", 0)     # set here, not as value=: "New samples" writes the key
seed = c3.number_input("Seed", 0, 2**31 - 1, key="gen_seed")


def next_seed() -> None:
    st.session_state["gen_seed"] = int(st.session_state.get("gen_seed", 0)) + 1


c4.button("New samples", on_click=next_seed, icon=":material/casino:", width="stretch")

z, images = prior_samples(lm.model, side * side, temperature=temperature, seed=int(seed))   # images (n, C, H, W)
show(grid(images, ncol=side, width=1400), display_width="stretch", caption=f"{side * side} samples from the prior, temperature {temperature:g}, "
                                             f"seed {seed}: the decoder's mean image for each z")
st.download_button("Download PNG", data=lambda: png_bytes(image_grid(images, nrow=side, scale=max(1, 224 // lm.model.config.image_size))),
                   file_name=f"samples-T{temperature:g}-seed{seed}.png", mime="image/png", icon=":material/download:",
                   on_click="ignore")
