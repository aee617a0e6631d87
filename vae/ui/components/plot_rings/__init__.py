"""Neighbours ringed on a 2-D Plotly map without changing its figure.

    fig.update_layout(meta="vae-map")                  # tags the chart
    st.plotly_chart(fig, key=..., on_select="rerun")
    plot_rings("vae-map", rings_xy, star_xy)           # (M, 2) map coordinates; (2,) or None

A trace added to the figure would make Streamlit see a new chart and drop its selection (the one that made
the query), so the rings and the query's star are drawn by a small `st.components.v2` component (JS beside
this file) in an SVG laid over the chart's plot area, placed with the chart's own axes and redrawn when the
view is zoomed or panned. An empty `rings_xy` and no star clear them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

__all__ = ["plot_rings"]

_HERE = Path(__file__).resolve().parent
_component = st.components.v2.component(
    "vae_plot_rings", html='<div class="vae-plot-rings-anchor" hidden></div>',
    js=(_HERE / "plot_rings.js").read_text(encoding="utf-8"))


def plot_rings(tag: str, rings_xy, star_xy=None, colour: str = "#e4007c", key: str | None = None) -> None:
    """Ring the points at rings_xy (M, 2) and star star_xy (2,) on the 2-D Plotly chart whose layout.meta is tag."""
    rings = np.asarray(rings_xy, dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(rings).all():
        raise ValueError("ring coordinates must be finite")
    star = None if star_xy is None else [float(v) for v in np.asarray(star_xy, dtype=np.float64).reshape(-1)[:2]]
    _component(key=key or f"plot_rings_{tag}", data={"tag": tag, "rings": rings.round(6).tolist(), "star": star,
                                                     "colour": colour})
