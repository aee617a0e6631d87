"""Plotly figure of the latent map. A pure function of numpy arrays."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from vae.ui.colours import LABEL_COLOURS, label_colour
from vae.ui.images import upscale



def latent_map_figure(xy: np.ndarray, index: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                      color: np.ndarray | None = None, color_name: str = "label",
                      axis_names: Sequence[str] = ("dim 1", "dim 2", "dim 3"),
                      background: tuple[Any, tuple[float, float, float, float]] | None = None,
                      path: np.ndarray | None = None,
                      marker_size: float | None = None, height: int = 620,
                      click_grid: tuple[np.ndarray, np.ndarray] | None = None,
                      color_range: tuple[float, float] | None = None) -> go.Figure:
    """A scatter of projected latent means.

    xy (N, 2) or (N, 3) float; index (N,) dataset indices and labels (N,) int, both shown on hover and
    carried as customdata [index, label] so a selection names the images. `color` (N,) float colours
    the points by a continuous factor (None: by label, one trace per class). `background` is
    (image (C, H, W) uint8 or PIL, (x0, x1, y0, y1)) drawn under 2-D points; `path` (K, 2|3) is
    drawn as a line with its ends marked A and B. `color_range` (lo, hi) clips the colour scale of `color`
    (cmin, cmax: points beyond take the end colours; hover still shows each point's own value).

    `click_grid` (gx (nx,), gy (ny,)) map coordinates, 2-D only: an invisible nx x ny grid of points under
    the data (trace 0, no customdata), so a click on an empty spot selects the nearest grid node and the
    selection event carries that map location. Streamlit forwards clicks on cartesian traces only as
    point selections, and only when dragmode is not "select"/"lasso" (it then forces clickmode "event");
    so 2-D maps open in pan mode: a click selects, box and lasso are in the toolbar.
    """
    three_d = xy.shape[1] == 3
    n = len(xy)
    size = marker_size or (3 if three_d else (4 if n > 3000 else 6))
    fig = go.Figure()
    scatter = go.Scatter3d if three_d else (go.Scattergl if n > 2000 else go.Scatter)
    names = np.array([class_names[int(l)] if 0 <= int(l) < len(class_names) else str(l) for l in labels],
                     dtype=object)
    custom = np.stack([index.astype(object), names], axis=1) if n else np.zeros((0, 2), dtype=object)
    hover = ("index %{customdata[0]}<br>label %{customdata[1]}"
             + (f"<br>{color_name} %{{marker.color:.3g}}" if color is not None else "") + "<extra></extra>")

    def coords(mask):
        d = dict(x=xy[mask, 0], y=xy[mask, 1])
        if three_d:
            d["z"] = xy[mask, 2]
        return d

    if click_grid is not None and not three_d:
        gx, gy = np.meshgrid(*click_grid)
        clear = dict(marker=dict(opacity=0))
        fig.add_trace(go.Scattergl(x=gx.ravel(), y=gy.ravel(), mode="markers", name="click grid", showlegend=False,
                                   hoverinfo="none", marker=dict(size=4, opacity=0, color="black"),
                                   selected=clear, unselected=clear))

    # over decoded images, a thin white ring keeps each point visible
    outline = dict(width=0.8, color="white") if background is not None else dict(width=0)
    # a click on an empty spot selects a grid node and so un-selects every data point: keep them in view
    faded = dict(unselected=dict(marker=dict(opacity=0.35))) if click_grid is not None and not three_d else {}
    if color is None:
        for k in np.unique(labels):
            m = labels == k
            fig.add_trace(scatter(**coords(m), mode="markers", name=str(names[m][0]), customdata=custom[m],
                                  hovertemplate=hover, **faded,
                                  marker=dict(size=size, color=label_colour(k),
                                              opacity=0.8, line=outline)))
    else:
        m = np.ones(n, dtype=bool)
        clip = dict(cmin=color_range[0], cmax=color_range[1]) if color_range is not None else {}
        fig.add_trace(scatter(**coords(m), mode="markers", name=color_name, customdata=custom, hovertemplate=hover,
                              **faded, marker=dict(size=size, color=color, colorscale="Viridis", opacity=0.85, **clip,
                                          colorbar=dict(title=color_name, thickness=12), line=outline)))

    if path is not None and len(path):
        pd = dict(x=path[:, 0], y=path[:, 1])
        if three_d:
            pd["z"] = path[:, 2]
        line = (go.Scatter3d if three_d else go.Scatter)(
            **pd, mode="lines+markers+text", name="path", text=["A"] + [""] * (len(path) - 2) + ["B"],
            textposition="top center", textfont=dict(size=16),
            line=dict(color="#e4007c", width=4), marker=dict(size=7 if not three_d else 4, color="#e4007c"),
            hovertemplate="step %{pointNumber}<extra>path</extra>")
        fig.add_trace(line)

    if background is not None and not three_d:
        img, (x0, x1, y0, y1) = background
        fig.add_layout_image(source=img if isinstance(img, Image.Image) else upscale(img, 1200), xref="x", yref="y", x=x0, y=y1, sizex=x1 - x0,
                             sizey=y1 - y0, sizing="stretch", layer="below", opacity=1.0)
        fig.update_xaxes(range=[x0, x1])
        fig.update_yaxes(range=[y0, y1])

    # coloured by a value, the colour bar holds the right edge: the legend (the value's trace, a path, the
    # neighbours) goes above the plot instead of over the bar (issue 27)
    legend = (dict(itemsizing="constant") if color is None else
              dict(itemsizing="constant", orientation="h", x=0, xanchor="left", y=1.0, yanchor="bottom"))
    layout = dict(height=height, margin=dict(l=10, r=10, t=30 if color is None else 50, b=10), legend=legend,
                  uirevision="map")
    if three_d:
        layout["scene"] = dict(xaxis_title=axis_names[0], yaxis_title=axis_names[1], zaxis_title=axis_names[2])
    else:
        layout.update(dragmode="pan", clickmode="event+select", xaxis_title=axis_names[0], yaxis_title=axis_names[1])
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    fig.update_layout(**layout)
    return fig


def scatter_png(xy: np.ndarray, labels: np.ndarray, width: int = 760, height: int = 420, dot: int = 2) -> Image.Image:
    """A quick raster scatter: xy (N, 2) map coordinates scaled to fill a width x height white RGB image
    (y up), each point a dot x dot square in its label's colour (vae.ui.colours). Milliseconds for 20,000 points:
    for a map redrawn as it computes, where a Plotly figure would be rebuilt each time."""
    xy = np.asarray(xy, dtype=np.float64)
    img = np.full((height, width, 3), 255, np.uint8)
    ok = np.isfinite(xy).all(axis=1)
    if ok.any():
        lo, hi = xy[ok].min(axis=0), xy[ok].max(axis=0)
        span = np.where(hi - lo > 0, hi - lo, 1.0)
        scale = min((width - 2 * dot - 1) / span[0], (height - 2 * dot - 1) / span[1])   # equal axes
        mid = (lo + hi) / 2
        cols = np.clip(np.round(width / 2 + (xy[ok, 0] - mid[0]) * scale).astype(int), 0, width - dot)
        rows = np.clip(np.round(height / 2 - (xy[ok, 1] - mid[1]) * scale).astype(int), 0, height - dot)
        palette = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in LABEL_COLOURS], np.uint8)
        colour = palette[np.asarray(labels)[ok].astype(np.int64) % len(palette)]
        for dr in range(dot):
            for dc in range(dot):
                img[rows + dr, cols + dc] = colour
    return Image.fromarray(img)
