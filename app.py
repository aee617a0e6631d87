"""The VAE latent-space explorer: `streamlit run app.py`.

One st.navigation over pages/, and the sidebar (model, dataset, device) drawn once here for every page.
"""

import streamlit as st

from vae.ui.decode import first_picture      # torch-free, like everything imported before the first picture

# The tab icon is an inline SVG: a :material/...: or emoji icon would be fetched from a font server or CDN
# on every page, which fails offline.
PAGE_ICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
             'fill="#1f77b4"/><circle cx="5" cy="10" r="2" fill="#fff"/><circle cx="10" cy="5" r="2" fill="#ffbf00"/>'
             '<circle cx="11.5" cy="11" r="1.6" fill="#fff"/></svg>')
st.set_page_config(page_title="VAE latent-space explorer", page_icon=PAGE_ICON, layout="wide")

# Decode is the default page, served at "/"; the hidden page "decode" runs the same script at /decode (a default
# page answers only at "/": /decode was "Page not found"). The default page's own url_path is only reserved;
# listed first, it is also what st.switch_page("pages/decode.py") opens.
pages = [
    st.Page("pages/decode.py", title="Decode", icon=":material/tune:", default=True, url_path="decode_home"),
    st.Page("pages/decode.py", title="Decode", icon=":material/tune:", url_path="decode", visibility="hidden"),
    st.Page("pages/latent_map.py", title="Latent map", icon=":material/scatter_plot:", url_path="latent_map"),
    st.Page("pages/interpolate.py", title="Interpolate", icon=":material/timeline:", url_path="interpolate"),
    st.Page("pages/generate.py", title="Generate", icon=":material/grid_view:", url_path="generate"),
    st.Page("pages/posterior.py", title="Posterior", icon=":material/functions:", url_path="posterior"),
    st.Page("pages/directions.py", title="Directions", icon=":material/arrow_outward:", url_path="directions"),
    st.Page("pages/likelihood.py", title="Likelihood", icon=":material/leaderboard:", url_path="likelihood"),
    st.Page("pages/factors.py", title="Factors", icon=":material/grid_on:", url_path="factors"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/gallery.py", title="Gallery", icon=":material/collections:", url_path="gallery"),
]
page = st.navigation(pages)
# A fresh server's first Decode page: the default model's picture, drawn from its files before torch is imported
# (2-3.5 s of a fresh server's first page); what follows imports torch.
first_picture.draw(page)

# pandas whole before any page runs, in every run. A click starts the next run in a new thread at once
# (runner.fastReruns) while the previous run's thread goes on to its next Streamlit call, and that thread may be
# inside the process's first `import pandas` (Streamlit's check of a component's arguments for data frames: 0.4 s,
# seconds under load). Plotly looks pandas up in sys.modules without the import lock, found it half made, and a
# page drawing a Plotly figure failed with "partially initialized module 'pandas' has no attribute 'Series'"
# (Interpolate and Decode on an outside or ONNX model, whose pages import pandas nowhere else first). Here a run
# waits for an import in flight (the module lock) and no page starts one. 0.35-0.5 s, once per server process.
import pandas  # noqa: E402,F401

from vae.ui import browser_memory, tasks, url_state, warmup  # noqa: E402
from vae.ui.hosting.hosting_ui import run_page  # noqa: E402
from vae.ui.sidebar import draw_sidebar  # noqa: E402

tasks.note_page(page.url_path)               # the background tasks asked from another page stop waiting for us
browser_memory.recall()                      # a reload: this browser's last view, unless the URL has a link
url_state.restore_before_sidebar()           # a shared link: model and map settings, before the widgets
ctx = draw_sidebar()
url_state.restore_after_sidebar(ctx)         # ... and the Decode point, once the model is known
with st.sidebar:
    url_state.share_box(ctx)
try:
    run_page(page)      # an error shows one line (no server paths); the traceback goes to the log
finally:
    first_picture.replaced()                 # the page stopped early or failed: the slot still becomes its title
    browser_memory.remember(ctx)             # also when the page stopped early (st.stop)
    warmup.start_background_warmup()         # once per server, after its first page: UMAP's numba compile
