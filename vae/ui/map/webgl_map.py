"""The Latent map drawn in WebGL (vae.ui.components.webgl_scatter): every point, lasso and click back to Python.

    cap = point_cap()                                   # None locally; hosted: $VAE_MAP_MAX_POINTS or 200,000
    event, ok = draw_webgl_map(ctx, view, split, colour_by, colour_values, query, found, key="map_webgl")
    if not ok: ...draw the sampled Plotly map instead (sample_view(view, 2000))...
    indices, spots = selected_points(event, [view.lat.index])       # as for a Plotly selection

The component's selection (positions into view.lat) is handed back in the shape of a Plotly selection
event with one trace, view.lat.index, the points as one sorted int64 array ({"selection": {"positions":
array([p, ...]), "points": [], "lasso": [...]}}, not a dict a point), which `selected_points` reads like a
Plotly selection, so the page's selection code (selected images, neighbours, export) serves both maps.
A click on an empty place of a map with an inverse (latent, PCA) comes back as a point of no trace with its
map coordinates ({"curve_number": 1, "x", "y"}), as the Plotly map's click grid does: the page decodes it.

Key the component by what fixes the points (model, data, split, count), not by the projection: then a new
projection of the same points moves them there in an animated transition instead of a new frame.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from vae.ui.components.webgl_scatter import (atlas_png, normalise_xy, read_value, thumbnails_to_send,
                                            webgl_scatter)
from vae.ui.colours import label_colour
from vae.ui.map.filters import take_view

CAP_ENV = "VAE_MAP_MAX_POINTS"
FALLBACK_POINTS = 2_000       # the Plotly map without WebGL: an SVG scatter (Scattergl needs WebGL too)
_RAMP = None
WEBGL_SUFFIX = "_webgl"       # the component's key ends with this
_NO_WEBGL = "_vae_map_no_webgl"


def point_cap() -> int | None:
    """Most points one map may hold (vae.ui.hosting.map_max_points): $VAE_MAP_MAX_POINTS, else 200,000 hosted, else None."""
    from vae.ui import hosting

    return hosting.map_max_points()


def point_choice(container, split: str, n_total: int, webgl: bool) -> tuple[int, str]:
    """The "Points" slider in `container`: (points to map, a note when the hosted cap sampled the split).

    Plotly: 500 .. 10,000 (default 10,000) and the whole split. WebGL: up to every point (the default),
    at most point_cap(); the cap's note says the data were sampled.
    """
    cap = point_cap()
    top = n_total if cap is None else min(n_total, cap)
    sizes = point_sizes(n_total, webgl)
    note = (f"This server maps at most {cap:,} points ({CAP_ENV}); the {n_total:,} images of the split are "
            f"sampled (fixed seed)." if cap is not None and n_total > cap else "")
    if len(sizes) == 1:
        container.caption(f"Points: {top:,}" + (" (the whole split)" if top == n_total else ""))
        return top, note
    default = top if webgl else min(sizes, key=lambda s: abs(s - 10_000))
    key = point_key(split, n_total, webgl)
    if st.session_state.get(key) not in (None, *sizes):
        st.session_state.pop(key)
    n = container.select_slider("Points", sizes, value=default, key=key,
                                help="a random subsample of the split (fixed seed); the largest is every point"
                                + (f" the server allows ({cap:,})" if note else ""))
    return int(n), (note if n == top else "")


def point_sizes(n_total: int, webgl: bool) -> list[int]:
    """The "Points" slider's choices for a split of n_total images (the largest: all the server allows)."""
    cap = point_cap()
    top = n_total if cap is None else min(n_total, cap)
    base = (500, 1000, 2000, 5000, 10000) + ((20_000, 50_000, 100_000, 200_000, 500_000) if webgl else ())
    return sorted({s for s in base if s < top} | {top})


def point_key(split: str, n_total: int, webgl: bool) -> str:
    """The session-state key of the "Points" slider (one per split, split size and map kind)."""
    return f"map_n_{split}_{n_total}" + ("_webgl" if webgl else "")


def ramp(n: int = 64) -> list[str]:
    """Viridis as n hex colours, low to high."""
    global _RAMP
    if _RAMP is None or len(_RAMP) != n:
        from plotly.colors import sample_colorscale, unlabel_rgb

        cols = sample_colorscale("Viridis", [i / (n - 1) for i in range(n)])
        _RAMP = ["#%02x%02x%02x" % tuple(int(round(c)) for c in unlabel_rgb(s)) for s in cols]
    return _RAMP


def sample_view(view, n: int, seed: int = 0):
    """The view cut to a seeded sample of at most n points (sorted positions kept); (view, positions)."""
    m = len(view.lat.index)
    if m <= n:
        return view, np.arange(m)
    pos = np.sort(np.random.default_rng(seed).choice(m, n, replace=False))
    return take_view(view, pos), pos


def legend_number(x: float, lo: float, hi: float) -> str:
    """x as the colour bar reads it, within the range [lo, hi] it ends: 3 significant digits, thousands
    separated ("12,300"), "0" for a value within 1/1000 of the span of zero (not "9.547e-07"), and
    scientific only for magnitudes below 0.001 that are not that small relative to the range."""
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    span = abs(float(hi) - float(lo))
    if x == 0 or (np.isfinite(span) and span > 0 and abs(x) < 1e-3 * span):
        return "0"
    x = float(f"{x:.3g}")
    if abs(x) >= 1e15:
        return f"{x:.3g}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 1e-3:
        return f"{x:.3g}"
    return f"{x:.2e}"


def _colours(view, dataset, colour_by: str, colour_values, value_range=None):
    """(categories or None, values or None, colors, legend, colorbar) for the component.

    value_range (lo, hi): values are clipped to it (the component spans the ramp over what it is sent) and
    the colour bar's ends read "≤ lo" / "≥ hi" when points lie beyond them.
    """
    lat = view.lat
    values = colour_values
    if values is None and colour_by != "label" and lat.factors is not None and colour_by in dataset.factor_names:
        values = lat.factors[:, list(dataset.factor_names).index(colour_by)]
    if values is not None:
        v = np.asarray(values, np.float64)
        vmin, vmax = float(np.nanmin(v)), float(np.nanmax(v))
        lo_txt, hi_txt = legend_number(vmin, vmin, vmax), legend_number(vmax, vmin, vmax)
        if value_range is not None:
            lo, hi = value_range
            lo_txt = f"≤ {legend_number(lo, lo, hi)}" if vmin < lo else legend_number(lo, lo, hi)
            hi_txt = f"≥ {legend_number(hi, lo, hi)}" if vmax > hi else legend_number(hi, lo, hi)
            v = np.clip(v, lo, hi)
        return None, v, ramp(), None, {"name": colour_by, "lo": lo_txt, "hi": hi_txt, "colors": ramp(8)}
    labels = np.asarray(lat.labels, np.int64)
    present = np.unique(labels)
    names = dataset.class_names
    n_cat = int(max(present.max() + 1 if len(present) else 1, 1))
    colors = [label_colour(i) for i in range(n_cat)]
    legend = [{"name": names[i] if 0 <= i < len(names) else str(i), "color": colors[i]} for i in present[:60]]
    return labels, None, colors, legend, None


def draw_webgl_map(ctx, view, split: str, colour_by: str, colour_values, query, found, key: str,
                   height: int = 620, value_range: tuple[float, float] | None = None,
                   png_name: str = "latent-map") -> tuple[dict | None, bool]:
    """Draw `view` (2-D) with the WebGL component; (Plotly-shaped selection event or None, webgl ok).

    webgl ok is False once this browser said it has no WebGL (the page then draws Plotly).
    png_name: the file name (without .png) of the map saved by its "Map as PNG" button.
    """
    lat = view.lat
    ds = ctx.dataset
    if no_webgl():
        return None, False
    value = read_value(st.session_state.get(key))
    xy, _, _ = _cached_ndc(key, view.xy)
    cats, vals, colors, legend, colorbar = _colours(view, ds, colour_by, colour_values, value_range)
    data_key = f"{key}|{len(lat.index)}|{colour_by}|{value_range}|{_digest(view.xy, vals)}"
    need = thumbnails_to_send(value, len(lat.index))    # every rerun answers the ask that stands
    atlas = None
    if need:
        images = getattr(ds, split).images[np.asarray(lat.index[need])]
        images = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
        atlas = atlas_png(images)
    highlight = [int(p) for p in found[0]] if found is not None else []
    qpos = int(query.position) if query is not None and query.position >= 0 else -1
    qxy = None
    if query is not None and qpos < 0 and query.xy is not None and len(query.xy) >= 2:
        _, centre, half = _cached_ndc(key, view.xy)
        qxy = (np.asarray(query.xy[:2], np.float64) - centre) / half
    value = webgl_scatter(xy, data_key=data_key, colors=colors, categories=cats,
                          values=vals, legend=legend, colorbar=colorbar, atlas=atlas, atlas_ids=need,
                          highlight=highlight, query=qpos, query_xy=qxy, names=list(ds.class_names) if cats is not None
                          else None, decodes=view.from_map is not None, height=height, png_name=png_name, key=key)
    fall_back_if_no_webgl(value)
    return previous_event(key), True


def webgl_key(model_id: str, split: str, n: int, k: int = 2, points_filter: str = "") -> str:
    """The component's key: fixed by the points (model, split, count, the search filter's signature), not by
    the projection (see the docstring)."""
    return f"map_{model_id}_{split}_{n}_{k}" + (f"_f{points_filter}" if points_filter else "") + WEBGL_SUFFIX


def fall_back_if_no_webgl(value: dict) -> None:
    """A component's value said this browser has no WebGL: remember why for the session, and rerun (every
    map of the session then draws its Plotly fallback)."""
    if value.get("webgl") is False:
        st.session_state[_NO_WEBGL] = value.get("error") or "no WebGL"
        st.rerun()


def no_webgl() -> str | None:
    """Why this browser session cannot draw the WebGL map (it said so once), or None."""
    if _NO_WEBGL not in st.session_state:
        for k in list(st.session_state.keys()):
            v = read_value(st.session_state[k]) if str(k).endswith(WEBGL_SUFFIX) else {}
            if v.get("webgl") is False:
                st.session_state[_NO_WEBGL] = v.get("error") or "no WebGL"
                break
    return st.session_state.get(_NO_WEBGL)


def fallback_note(n_total: int) -> str:
    return (f"This browser cannot draw the WebGL map ({no_webgl()}): shown instead is the Plotly map of a sample of "
            f"{min(FALLBACK_POINTS, n_total):,} of the {n_total:,} points.")


def previous_event(key: str, xy: np.ndarray | None = None) -> dict | None:
    """The component's last selection (session state `key`) as a Plotly selection event, or None.

    xy: the map's coordinates now (N, 2); a clicked spot is read on the layout the browser showed, and
    left out when that was another one (the projection changed since).
    """
    hit = st.session_state.get(f"_vae_webgl_ndc::{key}")
    if hit is not None and xy is not None and not _same_layout(hit[0], xy):
        hit = None
    raw = st.session_state.get(key)
    ndc = None if hit is None else hit[1]
    memo = st.session_state.get(f"_vae_webgl_event::{key}")   # the page reads one value twice a run: decode once
    if memo is not None and memo[0] is raw and memo[1] is ndc:
        return memo[2]
    event = _as_plotly_event(read_value(raw), None if ndc is None else ndc[1:])
    st.session_state[f"_vae_webgl_event::{key}"] = (raw, ndc, event)
    return event


def _same_layout(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two (N, 2) coordinate arrays are the same layout (the same object, or equal on a strided sample)."""
    if a is b:
        return True
    a, b = np.asarray(a), np.asarray(b)
    step = max(1, len(a) // 4096)
    return a.shape == b.shape and np.array_equal(a[::step], b[::step])


def _cached_ndc(key: str, xy: np.ndarray):
    """normalise_xy of the view's coordinates, kept per chart key while the coordinates are the same object."""
    slot = f"_vae_webgl_ndc::{key}"
    hit = st.session_state.get(slot)
    if hit is not None and hit[0] is xy:
        return hit[1]
    out = normalise_xy(xy)
    st.session_state[slot] = (xy, out)
    return out


def _digest(xy: np.ndarray, vals) -> str:
    """A short hash of (a strided sample of) the coordinates and values: the browser redraws when it changes."""
    import hashlib

    h = hashlib.sha1()
    h.update(np.ascontiguousarray(xy[:: max(1, len(xy) // 4096)]).tobytes())
    h.update(str(xy.shape).encode())
    if vals is not None:
        h.update(np.ascontiguousarray(np.asarray(vals, np.float32)[:: max(1, len(vals) // 4096)]).tobytes())
    return h.hexdigest()[:12]


def _as_plotly_event(value: dict, scale: tuple[np.ndarray, float] | None = None) -> dict | None:
    """The component's selection as a Plotly-shaped selection event over one trace (view.lat.index).

    The selected points travel as one sorted int64 array, selection["positions"] (positions into the trace),
    not as one {"curve_number", "point_index"} dict a point: a lasso over 1,000,000 points stays an array
    from the browser's bytes to the page (`selected_points` reads it). selection["points"] holds only a
    clicked spot: {"curve_number": 1, "x", "y"} in map coordinates.

    A box (kind "box") is selection["box"] as Plotly gives one, [{"x": [x0, x1], "y": [y0, y1]}] in map
    coordinates: `selected_points` then also reads its centre as a location (the page decodes there).

    scale: (centre (2,), half-span) of normalise_xy, to turn a clicked spot or a box back into map coordinates
    (a spot is left out without it, a box's corners are empty).
    """
    if not value or "seq" not in value:
        return None
    raw = value.get("points")
    pts = np.sort(np.asarray(raw if raw is not None else [], np.int64).ravel())
    sel = {"points": [], "positions": pts, "box": _box(value.get("box"), scale) if value.get("kind") == "box" else [],
           "lasso": [{"x": [], "y": []}] if value.get("kind") == "lasso" and len(pts) else []}
    spot = value.get("spot")
    if value.get("kind") == "spot" and not len(pts) and spot is not None and len(spot) == 2 and scale is not None:
        centre, half = scale
        x, y = np.asarray(centre, np.float64)[:2] + np.asarray(spot, np.float64) * float(half)
        if np.isfinite(x) and np.isfinite(y):
            sel["points"] = [{"curve_number": 1, "x": float(x), "y": float(y)}]
    return {"selection": sel}


def _box(box, scale: tuple[np.ndarray, float] | None) -> list[dict]:
    """A box's corners [x0, y0, x1, y1] (normalised) as Plotly's selection["box"]: [{"x": [x0, x1], "y": [y0, y1]}]
    in map coordinates ([{"x": [], "y": []}] without `scale` or with corners that are not 4 finite numbers)."""
    try:
        b = np.asarray(box, np.float64).ravel()
    except (TypeError, ValueError):
        b = np.zeros(0)
    if scale is None or b.shape != (4,) or not np.isfinite(b).all():
        return [{"x": [], "y": []}]
    centre, half = scale
    c = np.asarray(centre, np.float64)[:2]
    x = c[0] + b[[0, 2]] * float(half)
    y = c[1] + b[[1, 3]] * float(half)
    return [{"x": [float(x[0]), float(x[1])], "y": [float(y[0]), float(y[1])]}]
