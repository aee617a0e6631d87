"""The VAE latent-space explorer: `streamlit run app.py`.

One st.navigation over pages/, and the sidebar (model, dataset, device) drawn once here for every page.
"""

import streamlit as st

from vae.ui.sidebar import draw_sidebar

st.set_page_config(page_title="VAE latent-space explorer", page_icon=":material/scatter_plot:", layout="wide")

pages = [
    st.Page("pages/decode.py", title="Decode", icon=":material/tune:", default=True),
    st.Page("pages/latent_map.py", title="Latent map", icon=":material/scatter_plot:", url_path="latent_map"),
    st.Page("pages/interpolate.py", title="Interpolate", icon=":material/timeline:", url_path="interpolate"),
    st.Page("pages/generate.py", title="Generate", icon=":material/grid_view:", url_path="generate"),
    st.Page("pages/posterior.py", title="Posterior", icon=":material/functions:", url_path="posterior"),
    st.Page("pages/factors.py", title="Factors", icon=":material/grid_on:", url_path="factors"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
]
page = st.navigation(pages)
draw_sidebar()
page.run()
