"""A latent map: the projected latent means of a split, and the maps between latent and map coordinates.

    view = map_view(ctx, "test", 2000, "pca", 2)      # MapView, or a running tasks.Task for t-SNE, UMAP
    fig, traces = map_figure(view, colour_by="label")

Pages use it for the Latent map itself and to draw an interpolation path on the map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from vae.analysis.large_map import FIT_POINTS
from vae.analysis.map_quality import format_quality
from vae.analysis.projection_methods import PROJECTIONS
from vae.ui import tasks
from vae.ui.map.figures import latent_map_figure
from vae.ui.latents import Latents, dataset_latents, pca_projection

METHODS = {"latent": "the latent space itself (2-d)", **{m.name: m.label for m in PROJECTIONS.values()},
           "custom": "custom axes"}


@dataclass
class MapView:
    """Latent means laid out on a 2-D or 3-D map."""

    method: str                                          # "latent" | "pca" | "tsne" | "umap" | "custom"
    lat: Latents                                         # the encoded points
    xy: np.ndarray                                       # (N, k) map coordinates, k = 2 or 3
    axis_names: tuple[str, ...]
    to_map: Callable[[np.ndarray], np.ndarray] | None    # latent (M, D) -> map (M, k); None for t-SNE
    from_map: Callable[[np.ndarray], np.ndarray] | None  # map (M, k) -> latent (M, D); None for t-SNE
    note: str = ""
    projection: object = None                            # the fitted Projection (PCA, t-SNE, UMAP), for new points

    @property
    def k(self) -> int:
        return self.xy.shape[1]


def map_view(ctx, split: str, n: int, method: str, k: int = 2, settings: dict | None = None, axes=None):
    """The MapView for these settings; for a slow projection (t-SNE, UMAP) not yet computed, the running
    tasks.Task instead.

    method: "latent", "custom" or a name in vae.analysis.projection_methods.PROJECTIONS.
    settings: the method's settings ({"perplexity": 30.0} for t-SNE); None: its defaults.
    axes: a vae.analysis.directions.CustomAxes, for method "custom".
    """
    if method in PROJECTIONS:
        settings = {**PROJECTIONS[method].defaults(), **(settings or {})}
    lat = dataset_latents(ctx, split, n)
    n = len(lat.index)
    D = lat.mu.shape[1]
    if method == "latent":
        if D != 2:
            raise ValueError(f"the latent space is {D}-d; it is itself a map only when 2-d")
        ident = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
        return MapView("latent", lat, lat.mu, ("z1", "z2"), ident, ident)
    if method == "pca":
        kk = min(k, D)
        proj = pca_projection(ctx.lm.id, ctx.dataset_key, split, n, kk, lat.mu)
        ratio = proj.explained_variance_ratio
        names = tuple(f"PC{i + 1} ({ratio[i]:.0%})" for i in range(kk))
        return MapView("pca", lat, proj.embedding, names, proj.transform, proj.inverse_transform,
                       note=f"PCA keeps {ratio.sum():.0%} of the variance of the latent means", projection=proj)
    how = PROJECTIONS.get(method)
    if how is not None and how.slow:                     # a background task, shown with its progress
        name = how.label
        if n > FIT_POINTS:                               # a large map: kept on disk; above the method's fit_points, sampled
            task = tasks.large_projection_task(f"large|{method}|{ctx.lm.id}|{ctx.dataset_key}|{split}|{n}|{k}|"
                                               f"{sorted(settings.items())}", lat.mu, method, k, labels=lat.labels,
                                               **settings)
            if not task.is_done or task.error:
                return task
            proj = task.result
            return MapView(method, lat, proj.embedding, tuple(f"{name} {i + 1}" for i in range(k)), None, None,
                           note=(f"{name} of all {proj.info['fitted']:,} points; " if not proj.info["placed"] else
                                 f"{name} fitted on {proj.info['fitted']:,} points, the other {proj.info['placed']:,} "
                                 f"placed by its transform; ") + ("read from the disk cache" if proj.info["cached"]
                                                                 else f"took {proj.seconds:.1f} s")
                                + f"{_quality(proj)}; {how.caveat}")
        key = f"{method}|{ctx.lm.id}|{ctx.dataset_key}|{split}|{n}|{k}|{sorted(settings.items())}"
        task = tasks.projection_task(key, lat.mu, method, k, labels=lat.labels, **settings)
        if not task.is_done or task.error:
            return task
        proj = task.result
        return MapView(method, lat, proj.embedding, tuple(f"{name} {i + 1}" for i in range(k)), None, None,
                       note=f"{how.describe(proj)} took {proj.seconds:.1f} s{_quality(proj)}; {how.caveat}",
                       projection=proj)
    if method == "custom":
        if axes is None:
            raise ValueError("custom axes need two saved directions")
        xy = axes.transform(lat.mu)
        return MapView("custom", lat, xy, tuple(axes.names), axes.transform, axes.inverse_transform,
                       note=f"coordinates: the component of (mean of q - the data's mean) along each direction "
                            f"(cosine between the axes {axes.cosine:.2f})")
    raise ValueError(f"unknown map method {method!r}; expected one of {list(METHODS)}")


def layout_preview(lat: Latents, name: str, step: str = "iteration"):
    """A `tasks.show_task` preview for a 2-D t-SNE or UMAP task: draws its partial, (iteration, total, layout (N, 2))
    or, for a map fitted on a sample, (iteration, total, layout (m, 2), rows (m,)), as a raster map coloured
    by label (figures.scatter_png), so the map is seen forming as the Embedding Projector animates its
    t-SNE. `step` names what the count counts ("epoch" for UMAP). An image, not a Plotly chart: the progress fragment redraws it twice a second, and an image
    swaps without the chart's blank frames."""
    import streamlit as st

    from vae.ui.images import data_url
    from vae.ui.map.figures import scatter_png

    n = len(lat.index)

    def draw(partial) -> None:
        it, total, xy = partial[:3]
        rows = partial[3] if len(partial) > 3 else np.arange(n)
        if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) != len(rows) or (len(rows) and rows.max() >= n):
            return
        with st.container(key="map_layout_preview"):
            shown = f"all {n:,} points" if len(rows) == n else f"the {len(rows):,} points it is fitted on, of {n:,}"
            st.caption(f"{name} as it computes: {step} {it} of {total}, {shown}")
            pil = scatter_png(xy, lat.labels[rows])
            st.image(data_url(pil), width=pil.width)      # inside the message: a quick rerun cannot 404 it

    return draw


def _quality(proj) -> str:
    """" (trustworthiness 0.970, 10-NN accuracy 0.930)" of a task's map (vae.ui.tasks measures it), or ""."""
    text = format_quality(proj.params.get("quality"))
    return f" ({text})" if text else ""


def colour_options(dataset) -> list[str]:
    """What a map can be coloured by: "label", then the dataset's ground-truth factors."""
    return ["label"] + [f for f in getattr(dataset, "factor_names", []) if f != "shape"]


def map_figure(view: MapView, dataset, colour_by: str = "label", background=None,
               path: np.ndarray | None = None, height: int = 620, click_to_decode: bool = False,
               color: np.ndarray | None = None, color_range: tuple[float, float] | None = None):
    """(figure, traces): traces[i] is the dataset-index array of trace i (None for non-data traces).

    color: (N,) values to colour the points by, named `colour_by` (e.g. log p(x)); None: by label or factor.
    color_range: (lo, hi) of the colour scale (values beyond take the end colours); None: the values' extent.

    click_to_decode: on a 2-D map with an inverse (latent, PCA), an invisible grid under the points
    makes a click on an empty spot a selection of that map location (see `selected_points`).
    """
    lat = view.lat
    if color is None and colour_by != "label" and lat.factors is not None and colour_by in dataset.factor_names:
        color = lat.factors[:, list(dataset.factor_names).index(colour_by)]
    fig = latent_map_figure(view.xy, lat.index, lat.labels, dataset.class_names, color=color, color_name=colour_by,
                            axis_names=view.axis_names, background=background, path=path,
                            height=height, marker_size=4 if background is not None else None, color_range=color_range,
                            click_grid=_click_grid(view.xy) if click_to_decode and view.from_map is not None
                            and view.k == 2 else None)
    if click_to_decode and background is None and view.k == 2:
        (x0, x1), (y0, y1) = _extent(view.xy)      # the data's extent, not the (invisible) click grid's
        fig.update_xaxes(range=[x0, x1])
        fig.update_yaxes(range=[y0, y1])
    traces: list[np.ndarray | None] = []
    for tr in fig.data:
        if tr.name == "path" or tr.customdata is None:
            traces.append(None)
        else:
            traces.append(np.asarray([int(c[0]) for c in tr.customdata], dtype=np.int64))
    return fig, traces


def _extent(xy: np.ndarray, margin: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
    lo, hi = xy[:, :2].min(0), xy[:, :2].max(0)
    pad = (hi - lo) * margin + 1e-6
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]), float(hi[1] + pad[1]))


def _click_grid(xy: np.ndarray, per_half: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Node coordinates (gx, gy) of the click grid: square cells of 1/per_half of the larger half-span.

    The map keeps equal axis scales, so the wider-than-tall plot shows more than the data's extent:
    the grid spans up to 3x the data's half-height sideways and its half-width up and down.
    """
    (x0, x1), (y0, y1) = _extent(xy)
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    step = max(hx, hy) / per_half
    wx, wy = max(hx, 3 * hy), max(hy, hx)
    nx, ny = int(np.ceil(wx / step)), int(np.ceil(wy / step))
    return cx + step * np.arange(-nx, nx + 1), cy + step * np.arange(-ny, ny + 1)


def manifold_background(model, view: MapView, n: int = 15):
    """(PIL image, (x0, x1, y0, y1)): decoded images on an n x n grid over the map's extent."""
    from vae.analysis.latent import manifold_grid

    from vae.ui.images import grid

    (x0, x1), (y0, y1) = _extent(view.xy)
    hx, hy = (x1 - x0) / (2 * n), (y1 - y0) / (2 * n)                # tile centres, half a tile in
    images, _ = manifold_grid(model, n, extent=(x0 + hx, x1 - hx, y0 + hy, y1 - hy))   # (n, n, C, H, W), row 0 = top
    return grid(images, width=1200, pad=2), (x0, x1, y0, y1)   # thin gaps: small tiles would merge


def _selection_getter(event):
    """get(key) -> the selection's entry (or []) of a map event: a Plotly chart's (an object) or the WebGL map's
    (a dict, vae.ui.map.webgl_map)."""
    sel = getattr(event, "selection", None) or (event.get("selection") if isinstance(event, dict) else None) or {}
    return (lambda k: sel.get(k, [])) if isinstance(sel, dict) else (lambda k: getattr(sel, k, []))


def selected_box(event) -> bool:
    """Whether the map event's selection is a box (its centre is then the decoded spot, see selected_points)."""
    return bool(_selection_getter(event)("box"))


def selected_points(event, traces: list[np.ndarray | None]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """From a plotly selection event: (dataset indices int64 (k,) of the selected data points, map locations).

    The WebGL map's event (vae.ui.map.webgl_map) carries its points as one array, selection["positions"]
    (positions into traces[0]); a Plotly chart's as one dict a point in selection["points"].
    A location is the place the user pointed at on the map: a clicked non-data point (a node of the
    click grid, see `map_figure`), or the centre of a selection box. A box or lasso also selects the
    grid nodes inside it; those are not locations, the box's centre is (a lasso gives none).
    """
    get = _selection_getter(event)
    parts: list[np.ndarray] = []
    spots: list[tuple[float, float]] = []
    dragged = bool(get("box") or get("lasso"))
    positions = get("positions")
    if positions is not None and len(positions) and traces and traces[0] is not None:
        pos = np.asarray(positions, np.int64)
        parts.append(np.asarray(traces[0])[pos[(pos >= 0) & (pos < len(traces[0]))]].astype(np.int64, copy=False))
    picked: list[int] = []
    for p in get("points") or []:
        curve = p.get("curve_number", 0)
        i = p.get("point_index", p.get("point_number"))
        arr = traces[curve] if 0 <= curve < len(traces) else None
        if arr is not None and i is not None and 0 <= i < len(arr):
            picked.append(int(arr[i]))
        elif "x" in p and "y" in p and not dragged:
            spots.append((float(p["x"]), float(p["y"])))
    if picked:
        parts.append(np.asarray(picked, np.int64))
    if not spots:
        for box in get("box") or []:
            xs, ys = box.get("x") or [], box.get("y") or []
            if len(xs) == 2 and len(ys) == 2:
                spots.append(((xs[0] + xs[1]) / 2.0, (ys[0] + ys[1]) / 2.0))
    indices = parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return indices, spots
