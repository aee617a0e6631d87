"""A tiny app that draws N seeded random points with the WebGL scatter, for bench/webgl_map.py.

    streamlit run tests/e2e/apps/webgl_scatter_app.py        # then open ?n=1000000

Points: 10 Gaussian clusters (label = cluster) in [-1, 1]^2, seed 0. The page writes
"python got K points" when a selection (lasso or click) reaches Python.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from vae.ui.components.webgl_scatter import normalise_xy, webgl_scatter
from vae.ui.map.figures import QUALITATIVE

st.set_page_config(layout="wide")
n = int(st.query_params.get("n", "70000"))


@st.cache_data(max_entries=4)
def points(n: int) -> tuple[np.ndarray, np.ndarray]:
    """xy float32 (n, 2) in [-1, 1] and labels uint16 (n,): 10 clusters over a uniform floor."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n)
    centres = rng.uniform(-0.6, 0.6, (10, 2))
    xy = centres[labels] + rng.normal(0, 0.25, (n, 2))
    floor = rng.random(n) < 0.3
    xy[floor] = rng.uniform(-1, 1, (int(floor.sum()), 2))
    ndc, _, _ = normalise_xy(xy, margin=0.0)
    return ndc, labels.astype(np.uint16)


xy, labels = points(n)
value = webgl_scatter(xy, data_key=f"bench|{n}", colors=QUALITATIVE[:10], categories=labels,
                      legend=[{"name": str(i), "color": QUALITATIVE[i]} for i in range(10)], key="bench_scatter")
st.write(f"python got {len(value.get('points') or [])} points, selection {value.get('seq', 0)}")
