"""A tiny app that draws N seeded random points with the WebGL scatter, for bench/webgl_map.py.

    streamlit run tests/e2e/apps/webgl_scatter_app.py        # then open ?n=1000000

Points: 10 Gaussian clusters (label = cluster) in [-1, 1]^2, seed 0. The page writes
"python got K points" when a selection (lasso or click) reaches Python. Zoomed in, each point's thumbnail
is a made-up 28 x 28 image: a bar at an angle set by its cluster, brightness by its index.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from vae.ui.components.webgl_scatter import THUMB_MAX, atlas_png, normalise_xy, read_value, webgl_scatter
from vae.ui.colours import LABEL_COLOURS

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


def thumbnails(labels: np.ndarray, positions: list[int]) -> np.ndarray:
    """uint8 (M, 1, 28, 28): a bar through the centre at angle label * 18 degrees, brightness from the index."""
    yy, xx = np.mgrid[-13.5:14, -13.5:14]
    out = np.zeros((len(positions), 1, 28, 28), np.uint8)
    for k, p in enumerate(positions):
        a = np.deg2rad(18 * int(labels[p]))
        bar = np.abs(-np.sin(a) * xx + np.cos(a) * yy) < 2.5
        out[k, 0][bar & (xx ** 2 + yy ** 2 < 144)] = 120 + p % 136
    return out


xy, labels = points(n)
prev = read_value(st.session_state.get("bench_scatter"))
need = [int(p) for p in prev.get("need") or []][:THUMB_MAX]
value = webgl_scatter(xy, data_key=f"bench|{n}", colors=LABEL_COLOURS[:10], categories=labels,
                      legend=[{"name": str(i), "color": LABEL_COLOURS[i]} for i in range(10)], key="bench_scatter",
                      atlas=atlas_png(thumbnails(labels, need)) if need else None, atlas_ids=need)
st.write(f"python got {len(value.get('points', ()))} points, selection {value.get('seq', 0)}")
