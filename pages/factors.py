"""Factors: how the latent dimensions line up with the data's ground-truth factors (shapes)."""

import streamlit as st

from vae.ui import state
from vae.ui.compare import factors as fu
from vae.ui.sidebar import current_with_model

ctx = current_with_model()
st.title("Factors")
if not fu.needs_factors(ctx):
    state.stop()
lm, ds = ctx.lm, ctx.dataset
precision = st.radio("Precision", list(fu.PRECISIONS), format_func=fu.PRECISION_LABELS.get, horizontal=True,
                     key="factors_precision", help="how many generated images and FactorVAE votes the estimates use")
head = st.container()           # the metrics' progress, then their cards
left, right = st.columns([3, 2])
# The choices below the cards are drawn on every run, before the page may stop to wait for the metrics:
# a widget left out of a stopped run comes back at its default in the browser while the server keeps the
# old value, and the heat map drew one matrix under a radio naming another (issue 27).
which = left.radio("Matrix", list(fu.MATRICES), format_func=fu.MATRICES.get, horizontal=True, key="factors_matrix")
with right:
    st.markdown("**Reading the matrix**")
    st.caption("One row per latent dimension, most informative (largest KL) first; one column per factor. A "
               "disentangled code has one bright cell per column, each in a different row; an inactive dimension "
               "(KL near 0) should stay pale, but its mean still varies a little with the image, and binned over its own "
               "tiny range that can show as information. The small values everywhere are the bias of the binned "
               "estimate.")
    z = fu.traversal_start(ctx)

with head:
    task = fu.factors_task(lm, ds, ctx.dataset_key, precision)
    if task.error:
        st.error(f"Computing the factor metrics failed: {task.error}")
        if st.button("Try again", key="factors_retry"):
            fu.factors_task(lm, ds, ctx.dataset_key, precision, retry=True)
            st.rerun()
        state.stop()
    if not fu.wait_for([task], "Factor metrics"):
        st.caption("Computed once per model and data set, in the background: you may change page meanwhile.")
        state.stop()
    result = task.result
    p = result["factor_protocol"]
    st.caption(f"Encoder means of {p['n_points']:,} images "
               f"{'drawn from the generator' if p['source'] == 'generated' else 'of the ' + p['source']}"
               f" (seed {p['seed']}); continuous factors cut into {p['num_bins']} bins as disentanglement_lib does; "
               f"DCI and SAP fit on {p['n_train']:,} and scored on {p['n_test']:,}. Computed in {task.seconds:.0f} s.")
    fu.metric_cards(result)
    with st.expander("What the metrics mean", expanded=False):
        fu.metric_meanings()

with left:
    st.plotly_chart(fu.matrix_figure(result, which), key=f"factors_heat_{lm.id}_{which}")

st.subheader("Each factor and the dimension that carries it")
fu.factor_rows(lm.model, result, z)
