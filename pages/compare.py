"""Compare: models on the same data side by side, and a sweep's rate-distortion picture and metrics."""

import streamlit as st

from vae.ui.compare import models as cu
from vae.ui.sidebar import current_with_model

ctx = current_with_model()
st.title("Compare")
models_tab, sweep_tab = st.tabs(["Models side by side", "A sweep"])

with sweep_tab:
    found = cu.sweeps()
    if not found:
        st.info("No sweeps found: train one with `python -m vae sweep ... --out runs/NAME` (bundled summaries live "
                "in assets/sweeps/).")
    else:
        name = st.selectbox("Sweep", list(found), key="cmp_sweep")
        try:
            sweep, pending = cu.sweep_summaries(cu.load_sweep_summary(found[name]), ctx)
        except Exception as e:  # a broken sweep folder: say so, the rest of the page still works
            st.error(f"Could not read the sweep {name}: {e}")
        else:
            cu.show_sweep(sweep, pending)

with models_tab:
    if ctx.dataset is None:
        st.info(ctx.dataset_note or "Open a dataset in the sidebar first: the models are compared on it.")
    else:
        cu.show_models(ctx)
