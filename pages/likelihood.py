"""Likelihood: the data ranked by the model's own IWAE estimate of log p(x); the least and most likely images."""

import numpy as np
import streamlit as st

from vae.ui import loaders, state
from vae.ui.map import ranking
from vae.ui.sidebar import current_with_model
from vae.ui.tasks import show_task

st.title("Likelihood ranking")
st.caption("Each image's log p(x) estimated by importance sampling (IWAE, K samples from q(z|x)), nats per image "
           "summed over pixels; the gap IWAE − ELBO estimates KL(q(z|x) ‖ p(z|x)), what the encoder's Gaussian "
           "gives away on that image. The least likely images are where the model is surprised: odd writing, "
           "mislabels, or things it never learned.")
ctx = current_with_model()
if ctx.dataset is None:
    st.info(ctx.dataset_note or "Choose a dataset in the sidebar first.")
    state.stop()
ds = ctx.dataset

c1, c2, c3, c4, c5 = st.columns([1, 1.5, 1.5, 1, 1.3])
splits, split_help = loaders.split_choices(ds)
if st.session_state.get("lik_split") not in (None, *splits):      # a split no longer loaded
    st.session_state.pop("lik_split")
split = c1.radio("Split", splits, horizontal=True, key="lik_split", help=split_help)
n_total = len(getattr(ds, split))
sizes = sorted({s for s in (500, 1000, 2000, 5000, 10000) if s < n_total} | {n_total})
n = c2.select_slider("Images", sizes, value=min(sizes, key=lambda s: abs(s - 2000)), key=f"lik_n_{split}_{n_total}",
                     help="a random subsample of the split (fixed seed; the same points as the Latent map's)")
k = c3.select_slider("K (importance samples)", ranking.K_CHOICES, value=ranking.DEFAULT_K, key="lik_k",
                     help="more samples: a tighter estimate, proportionally slower")
seed = int(c4.number_input("Seed", 0, 10_000, 0, key="lik_seed"))
# drawn on every run, before the page may stop: a widget left out of a stopped run comes back at its default
# in the browser while the server keeps its value (issue 27)
show_n = c5.select_slider("Images per gallery", [8, 16, 24, 32], value=16, key="lik_show")

task = ranking.find_ranking(ctx, split, n, k, seed)
if task is None or task.error:
    if task is not None:
        st.error(f"The ranking failed: {task.error}")
    if st.button(f"Rank {n:,} images by log p(x)", icon=":material/sort:", type="primary", key="lik_start"):
        task = ranking.ranking_task(ctx, split, n, k, seed)
    else:
        st.caption(f"{n:,} images × {k} samples = {n * k:,} decoder evaluations, in the background; the result is "
                   "kept for every page (the Latent map can colour by it).")
        state.stop()
if not task.is_done:
    show_task(task, f"IWAE of {n:,} images, K = {k}")
    state.stop()
sr = task.result
r = sr.ranking
m = st.columns(4)
m[0].metric("mean log p(x)", f"{r.log_px.mean():.2f}", help="IWAE estimate, nats per image")
m[1].metric("mean ELBO", f"{r.elbo.mean():.2f}", help="nats per image, with the same K samples")
m[2].metric("mean gap", f"{r.gap.mean():.3f}", help="IWAE − ELBO, nats: an estimate of KL(q ‖ p(z|x)) from below")
m[3].metric("time", f"{r.seconds:.1f} s", help=f"{len(r.order):,} images, K = {r.k}, seed {r.seed}")
st.download_button("Ranking as CSV", key="lik_csv", icon=":material/table:", on_click="ignore", mime="text/csv",
                   file_name=f"likelihood-{split}-K{r.k}-seed{r.seed}.csv",
                   data=lambda: r.to_csv(sr.index, getattr(ds, split).labels.numpy()[sr.index], ds.class_names))

st.subheader(f"The {show_n} least likely images")
ranking.gallery(ctx, sr, r.least(show_n))
st.subheader(f"The {show_n} most likely images")
ranking.gallery(ctx, sr, r.most(show_n))
st.caption("Captions: index · label · log p(x) (gap IWAE − ELBO), nats per image.")
st.subheader("How log p(x) is spread")
st.plotly_chart(ranking.histogram(sr), key="lik_hist")
by_label = {}
labels = getattr(ds, split).labels.numpy()[sr.index]
for lab in np.unique(labels):
    by_label[ds.class_names[int(lab)] if 0 <= int(lab) < len(ds.class_names) else str(lab)] = \
        float(r.log_px[labels == lab].mean())
st.caption("Mean log p(x) per label: " + ", ".join(f"{k}: {v:.1f}" for k, v in by_label.items())
           + ". The Latent map can colour its points by log p(x) or by the gap.")
