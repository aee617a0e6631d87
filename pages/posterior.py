"""Posterior: log p(x) = ELBO + KL(q(z|x) || p(z|x)) for one image, made visible."""

import numpy as np
import streamlit as st

from vae.ui import hosting
from vae.ui import images
from vae.ui import state
from vae.ui import posterior as post
from vae.ui.posterior import twin as posterior_twin
from vae.ui.sidebar import current_with_model

st.title("Posterior")
st.caption("The encoder's q(z|x) is a Gaussian guess at the true posterior p(z|x) ∝ p(x|z) p(z). "
           "The ELBO falls short of log p(x) by exactly how wrong that guess is: "
           "log p(x) = ELBO + KL(q(z|x) ‖ p(z|x)). All values are nats per image, summed over pixels.")

ctx = current_with_model()
lm = ctx.lm
model, two_d = lm.model, lm.latent_dim == 2

pick, show_x, show_recon = st.columns([3, 1, 1], vertical_alignment="top")
with pick:
    point = post.pick_data_point(ctx)

# The settings are drawn on every run, before any st.stop(): a widget left out of a stopped run is
# forgotten by the browser (it comes back at its default) but not by the server, which would go on
# computing with the old value while the box shows the default (issue 27).
settings = st.columns([2, 2, 3])
max_k = settings[0].selectbox("Largest K (importance samples)", post.K_CHOICES,
                              index=post.K_CHOICES.index(post.default_max_k(model)), key="post_max_k",
                              help=f"The curve shows K = 1, 5, 50, ... up to this, each the mean of "
                                   f"independent estimates ({post.IWAE_REPEATS} at the largest K).")
grid_n = hosting.posterior_grid_size(int(np.prod(model.config.image_shape)), post.GRID_SIZE) if two_d else None
if two_d and grid_n is None:      # bounded by size: a 256x256 decoder would hold the CPU for minutes
    two_d = False
    st.caption("This model's images are too large for the true posterior on a grid on this server "
               "(VAE_MAX_POSTERIOR_WORK); the IWAE estimate stands in for log p(x).")
if two_d:
    view = settings[1].radio("Extent", [post.ZOOM, post.PRIOR], key="post_extent", horizontal=False)
    log_scale = settings[2].toggle("Colour by log p(z|x)", key="post_log", value=False)
if point is None:
    if two_d:
        posterior_twin.controls(lm)    # the twin's toggles too, for the same reason
    state.stop()
x = point.tensor()                                             # (1, C, H, W) uint8
with show_x:
    images.show(point.image, 160, caption=f"x: {point.source}", display_width=160)
with show_recon:
    images.show(post.reconstruction(model, x), 160, caption="reconstruction: decode(mean of q)", display_width=160)
ks = post.curve_ks(max_k)


def importance_sampling():
    """The IWAE curve, with a progress bar while it runs (K = 50,000 on a conv model: tens of seconds)."""
    return post.iwae_curve_with_bar(lm.id, point.key, ks, post.IWAE_REPEATS, 0, model, x)


if two_d:
    numbers = post.grid_view(lm.id, point.key, None, grid_n, model, x)     # accurate: zoomed grid
    extent = post.display_extent(numbers) if view == post.ZOOM else post.PRIOR_EXTENT
    shown = post.grid_view(lm.id, point.key, extent, grid_n, model, x)
    recon, kl, elbo, gap, log_px = numbers.recon, numbers.kl, numbers.elbo, numbers.kl_q_to_posterior, numbers.log_px
    log_px_label = "log p(x), grid"
else:
    curve = importance_sampling()
    recon, kl, elbo = curve.recon, curve.kl, curve.elbo
    log_px, gap = curve.iwae[-1], curve.iwae[-1] - curve.elbo
    log_px_label = f"log p(x) ≈ IWAE K={curve.ks[-1]}"

terms = st.columns(5)
for col, (label, value) in zip(terms, [("E_q[log p(x|z)]", recon), ("−KL(q‖p(z))", -kl), ("ELBO", elbo),
                                       ("gap = KL(q‖p(z|x))", gap), (log_px_label, log_px)]):
    col.metric(label, f"{value:.3f}", help="nats per image")

left, right = st.columns(2)
if two_d:
    with left:
        st.markdown("**The true posterior p(z|x) and the encoder's q(z|x)**")
        st.plotly_chart(post.posterior_figure(shown, log_scale=log_scale, prior_circles=view == post.PRIOR),
                        key="post_heatmap", width="stretch")
        st.caption("Colour: p(z|x) on a grid, normalised by quadrature. Red: q(z|x)'s 1σ (solid) and 2σ "
                   "(dashed) ellipses and mean (+); white ×: the posterior's mean. Where they disagree, "
                   "the ELBO loses nats.")
    with right:
        st.markdown("**ELBO + gap = log p(x)**")
        st.plotly_chart(post.identity_figure(recon, kl, gap, log_px_label), key="post_bars", width="stretch")
        st.caption(f"The ELBO's two terms sum to {elbo:.3f} nats; adding the KL from q to the true posterior, "
                   f"{gap:.3f} nats (both measured on the grid), gives log p(x) = {log_px:.3f} nats by quadrature "
                   f"(residual {elbo + gap - log_px:.1e}).")
else:
    with left:
        st.markdown("**ELBO + gap = log p(x)**")
        st.plotly_chart(post.identity_figure(recon, kl, gap, log_px_label), key="post_bars", width="stretch")
        st.caption(f"With a {lm.latent_dim}-d latent there is no grid: log p(x) is the IWAE estimate with "
                   f"K = {curve.ks[-1]}, so the gap is an estimate of KL(q(z|x) ‖ p(z|x)) from below.")
with (right if not two_d else st.container()):
    st.markdown("**The gap closes as K grows**")
    if two_d:            # the grid, its numbers and the waterfall are on the page before the sampling starts
        curve = importance_sampling()
    st.plotly_chart(post.gap_by_k_figure(curve, elbo, log_px if two_d else None), key="post_k",
                    width="stretch")
    st.caption(f"The importance-weighted bound (mean of {curve.repeats[0]:,} estimates at K = 1 down to "
               f"{curve.repeats[-1]} at K = {curve.ks[-1]:,}; ±1 standard error) starts at "
               "the ELBO for K = 1 and rises towards log p(x): more samples from q, reweighted by "
               "p(x, z) / q(z|x), correct for q's mismatch with the true posterior.")

if two_d:
    posterior_twin.render(lm, point, x)
