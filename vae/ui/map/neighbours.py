"""Nearest neighbours on the page: the k encoded images nearest a query, shown, listed and marked on the map.

    query = map_query(ctx, view, split, traces, st.session_state.get(chart_key))   # before drawing the chart
    found = find_neighbours(view.lat, query)                                       # (positions, distances)
    mark_on_map(fig, traces, view, query, found)                                   # a 3-D map: as traces
    ... st.plotly_chart(fig) ...
    ring_on_map("vae-map", view, query, found)                                     # a 2-D map: over its figure
    neighbours_section(ctx, view, split, query, found)                             # gallery, query by example
    decode_neighbours(ctx, lat, z)                                                 # for the Decode page

A query is a map click (one point), a selection (its centre), a clicked empty spot (the decoded
latent point) or an uploaded or drawn image (encoded, then placed on the current map).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from vae.analysis.neighbours import METRICS, nearest_neighbours

from vae.ui.images import grid, show
from vae.ui.point_link import open_links
from vae.ui.map.latent_map import selected_points

K_KEY, METRIC_KEY, SOURCE_KEY, OPEN_KEY = "map_nb_k", "map_nb_metric", "map_nb_source", "_vae_map_nb_open"
_IMAGE_QUERY = "_vae_map_image_query"
_LAST_QUERY = "_vae_map_last_query"     # (view key, Query): the map's chart forgets its selection when redrawn
_HAD_SELECTION = "_vae_map_had_selection"   # the previous run's chart had a selection (a double-click empties it)
SOURCES = {"map": "the map selection or click", "image": "an uploaded or drawn image"}


@dataclass
class Query:
    """Where to look from: a latent point, with q's log-variance when it is an encoded image."""

    mu: np.ndarray                    # (D,) float32
    logvar: np.ndarray | None         # (D,) or None (a location, or a centre of several points)
    what: str                         # said on the page, e.g. "test #12 (7)"
    position: int = -1                # its position in the map's points (left out of its neighbours), or -1
    xy: np.ndarray | None = None      # (k,) where it sits on the map, when known
    image: np.ndarray | None = None   # (C, H, W) uint8, for a query by example


def _label(ds, split: str, i: int) -> str:
    lab = int(getattr(ds, split).labels[i])
    return ds.class_names[lab] if 0 <= lab < len(ds.class_names) else str(lab)


def map_query(ctx, view, split: str, traces, selection_state) -> Query | None:
    """The query the neighbours are found for, from the state of the previous run (call before the chart).

    A query from the map stays until another point is picked or it is cleared: the chart's own selection
    is reset by Plotly whenever the figure changes (as it does when the neighbours are marked on it).
    """
    if st.session_state.get(SOURCE_KEY, "map") == "image":
        q = st.session_state.get(_IMAGE_QUERY)
        if q is None or q["model"] != ctx.lm.id:
            return None
        key = (view.method, view.k, len(view.lat.index), split)
        if q.get("placed_for") != key:       # place it on this map (t-SNE / UMAP: their transform of new points)
            q["xy"], q["placed_for"] = _place(view, q["mu"]), key
        return Query(q["mu"], q["logvar"], q["what"], -1, q["xy"], q["image"])
    key = (ctx.lm.id, ctx.dataset_key, split, len(view.lat.index), view.method, view.k)
    had = st.session_state.get(_HAD_SELECTION, False)
    picked = _has_selection(selection_state)
    st.session_state[_HAD_SELECTION] = picked
    if had and selection_state is not None and not picked:   # a double-click cleared the selection: so is its query
        st.session_state[_LAST_QUERY] = None
        return None
    q = _query_from_selection(ctx, view, split, traces, selection_state) if selection_state else None
    if q is not None:
        st.session_state[_LAST_QUERY] = (key, q)
        return q
    last = st.session_state.get(_LAST_QUERY)
    return last[1] if last is not None and last[0] == key else None


def _has_selection(selection_state) -> bool:
    """Whether the chart's state holds any selected point, box or lasso."""
    if selection_state is None:
        return False
    sel = getattr(selection_state, "selection", None)
    if sel is None and isinstance(selection_state, dict):
        sel = selection_state.get("selection")
    if not sel:
        return False
    get = (lambda k: sel.get(k)) if isinstance(sel, dict) else (lambda k: getattr(sel, k, None))
    return any(v is not None and len(v) > 0 for v in map(get, ("points", "positions", "box", "lasso", "point_indices")))


def _query_from_selection(ctx, view, split: str, traces, selection_state) -> Query | None:
    indices, spots = selected_points(selection_state, traces)
    lat = view.lat
    if len(indices):
        pos = np.searchsorted(lat.index, indices)
        pos = pos[(pos < len(lat.index)) & (lat.index[np.minimum(pos, len(lat.index) - 1)] == indices)]
        if len(pos) == 0:
            return None
        if len(pos) == 1:
            p = int(pos[0])
            i = int(lat.index[p])
            return Query(lat.mu[p], lat.logvar[p], f"{split} #{i} ({_label(ctx.dataset, split, i)})", p, view.xy[p])
        centre = lat.mu[pos].mean(0)
        xy = view.to_map(centre[None])[0] if view.to_map is not None else view.xy[pos].mean(0)
        return Query(centre.astype(np.float32), None, f"the centre of the selection ({len(pos)} points)", -1, xy)
    if spots and view.from_map is not None and view.k == 2:
        z = view.from_map(np.asarray(spots[:1], dtype=np.float64))[0]
        return Query(np.asarray(z, np.float32), None, "the clicked spot", -1, np.asarray(spots[0], np.float32))
    return None


def _place(view, mu: np.ndarray) -> np.ndarray | None:
    try:
        if view.method == "latent":
            return np.asarray(mu, np.float32)
        if view.to_map is not None:
            return view.to_map(mu[None])[0]
        if view.projection is not None:
            from vae.analysis.projection import place_points

            return place_points(view.projection, mu[None])[0]
    except Exception as e:  # noqa: BLE001 - a point that cannot be placed is still listed
        st.warning(f"Could not place the image on this map: {e}")
    return None


def find_neighbours(lat, query: Query | None) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(positions into lat (k,), distances (k,), metric used) for the query, or None without one."""
    if query is None:
        return None
    k = int(st.session_state.get(K_KEY, 8))
    metric = st.session_state.get(METRIC_KEY, "euclidean")
    if metric == "kl" and query.logvar is None:
        metric = "euclidean"          # a location or a centre has no q: only the Euclidean distance applies
    pos, dist = nearest_neighbours(query.mu, lat.mu, k=k, metric=metric,
                                   query_logvar=query.logvar if metric == "kl" else None,
                                   logvar=lat.logvar if metric == "kl" else None,
                                   exclude=query.position if query.position >= 0 else None)
    return pos, dist, metric


def ring_on_map(tag: str, view, query: Query | None, found) -> None:
    """Ring the neighbours and star the query on the 2-D Plotly map tagged `tag` (layout.meta), drawn over the
    figure (vae.ui.components.plot_rings) so the chart keeps the selection that made the query; no query
    clears them."""
    from vae.ui.components.plot_rings import plot_rings

    if query is None or found is None:
        plot_rings(tag, np.zeros((0, 2)))
        return
    plot_rings(tag, view.xy[found[0], :2], None if query.xy is None else np.asarray(query.xy)[:2])


def mark_on_map(fig, traces: list, view, query: Query | None, found, always: bool = False) -> None:
    """Ring the neighbours and star the query on the map as traces (traces get None entries: not data points):
    on a 3-D map, which cannot be selected on. Only for a query by example unless `always`; a 2-D map rings
    them over its figure instead (`ring_on_map`), since a changed figure drops the chart's selection.
    """
    if query is None or found is None or (query.image is None and not always):
        return
    three_d = view.k == 3
    scatter = go.Scatter3d if three_d else go.Scatter

    def coords(xy):
        d = dict(x=xy[:, 0], y=xy[:, 1])
        if three_d:
            d["z"] = xy[:, 2]
        return d

    pos, dist, metric = found
    xy = view.xy[pos]
    fig.add_trace(scatter(**coords(xy), mode="markers", name="neighbours", hoverinfo="skip",
                          marker=dict(size=9 if three_d else 14, color="rgba(0,0,0,0)",
                                      line=dict(width=2.5, color="#e4007c"), symbol="circle-open" if three_d
                                      else "circle")))
    traces.append(None)
    if query.xy is not None:
        fig.add_trace(scatter(**coords(np.asarray(query.xy, np.float32)[None]), mode="markers", name="query",
                              hovertemplate=f"{query.what}<extra>query</extra>",
                              marker=dict(size=8 if three_d else 18, color="#e4007c", symbol="diamond" if three_d
                                          else "star", line=dict(width=1, color="white"))))
        traces.append(None)


def _image_query_widgets(ctx) -> None:
    """Upload or draw an image; when it changes, encode it, store it as the query and rerun."""
    from vae.analysis.latent import encode_dataset

    from vae.ui.posterior import ImageInputError, image_from_bytes, image_from_drawing

    shape = tuple(ctx.lm.model.config.image_shape)
    how = st.radio("Image", ["upload", "draw"], horizontal=True, key="map_nb_image_how",
                   format_func={"upload": "Upload", "draw": "Draw"}.get)
    data, name = None, ""
    if how == "upload":
        up = st.file_uploader("A PNG or JPEG image", type=["png", "jpg", "jpeg"], key="map_nb_upload")
        if up is not None:
            data, name = up.getvalue(), up.name
    else:
        from vae.ui.components.draw_canvas import draw_canvas

        data, name = draw_canvas(key="map_nb_canvas", brush=int(np.clip(round(2.2 * 224 / shape[2]), 8, 40))), "your drawing"
    if data is None:
        st.caption("Upload or draw an image: it is encoded, placed on the map (a star) and its neighbours listed.")
        return
    mnist_like = False
    try:
        if how == "upload":
            img = image_from_bytes(data, name, shape, "auto")
        else:        # made as MNIST's digits were, for an MNIST model (vae.data.digit_norm)
            img, mnist_like = image_from_drawing(data, shape, ctx.dataset.name if ctx.dataset is not None else None)
    except ImageInputError as e:
        st.error(str(e))
        return
    if how == "draw" and img.max() == 0:
        st.caption("The canvas is empty: draw something.")
        return
    digest = hashlib.sha256(img.tobytes()).hexdigest()[:16]
    old = st.session_state.get(_IMAGE_QUERY)
    if old is not None and old["digest"] == digest and old["model"] == ctx.lm.id:
        return
    mu, logvar = encode_dataset(ctx.lm.model, img[None])
    st.session_state[_IMAGE_QUERY] = dict(model=ctx.lm.id, digest=digest, mu=mu[0], logvar=logvar[0],
                                          what=f"uploaded {name}" if how == "upload" else
                                          ("your drawing, centred like MNIST" if mnist_like else "your drawing"),
                                          image=img, xy=None, placed_for=None)
    st.rerun()


def neighbours_section(ctx, view, split: str, query: Query | None, found) -> None:
    """The controls, the query and its k nearest images (each opens large on a click)."""
    ds = ctx.dataset
    st.subheader("Nearest neighbours")
    c1, c2, c3 = st.columns([1.4, 1, 1.6])
    c1.radio("Neighbours of", list(SOURCES), format_func=SOURCES.get, key=SOURCE_KEY, horizontal=True)
    c2.select_slider("How many", [4, 8, 12, 16], value=8, key=K_KEY)
    c3.radio("Distance", list(METRICS), format_func=METRICS.get, key=METRIC_KEY, horizontal=True,
             help="Euclidean: between the means of q(z|x), in latent units. Symmetric KL: KL(q1‖q2) + KL(q2‖q1) "
                  "in nats, which also weighs how sure the encoder is; it needs the query's q, so a clicked spot "
                  "or a centre of several points uses the Euclidean distance.")
    if st.session_state.get(SOURCE_KEY) == "image":
        _image_query_widgets(ctx)
    if query is None or found is None:
        if st.session_state.get(SOURCE_KEY, "map") == "map":
            st.caption("Click a point, select several, or click an empty spot of a 2-D map to list its nearest "
                       "test images here (marked with pink rings on the map).")
        return
    pos, dist, metric = found
    if st.session_state.get(SOURCE_KEY, "map") == "map":
        st.button("Clear the query", key="map_nb_clear", icon=":material/close:",
                  on_click=st.session_state.__setitem__, args=(_LAST_QUERY, None))
    unit = "nats" if metric == "kl" else ""
    left, right = st.columns([1, 5])
    with left:
        if query.image is not None:
            show(query.image, 112, caption=f"query: {query.what}")
        elif query.position >= 0:
            show(getattr(ds, split).images[int(view.lat.index[query.position])], 112, caption=f"query: {query.what}")
        else:
            from vae.analysis.latent import decode_numpy

            show(decode_numpy(ctx.lm.model, query.mu[None])[0], 112, caption=f"query: {query.what} (decoded)")
        if query.xy is None and query.image is not None:
            st.caption("not placed on this map")
    images = getattr(ds, split).images
    with right:
        cols = st.columns(min(8, len(pos)))
        for j, (p, d) in enumerate(zip(pos, dist)):
            i = int(view.lat.index[p])
            with cols[j % len(cols)]:
                show(images[i], 84, caption=f"{_label(ds, split, i)} · {d:.2f}{' ' + unit if unit else ''}")
                st.button(f"#{i}", key=f"map_nb_open_{j}",
                          on_click=st.session_state.__setitem__, args=(OPEN_KEY, (ctx.lm.id, split, i, float(d))),
                          help="open this image", width="stretch")
    st.caption(f"The {len(pos)} {split} images nearest to {query.what} by the {METRICS[metric].lower()}, nearest "
               "first (label · distance); click a number to open the image. They are ringed on the map above"
               + (", the query is the star." if query.xy is not None else "."))
    opened = st.session_state.get(OPEN_KEY)
    if opened and opened[0] == ctx.lm.id and opened[1] == split and 0 <= opened[2] < len(images):
        _, _, i, d = opened
        from vae.analysis.latent import decode_numpy, encode_dataset

        mu, _ = encode_dataset(ctx.lm.model, images[i:i + 1])
        a, b, c = st.columns([1, 1, 2])
        show(images[i], 224, caption=f"opened: {split} #{i} ({_label(ds, split, i)})", container=a)
        show(decode_numpy(ctx.lm.model, mu)[0], 224, caption="its reconstruction", container=b)
        c.markdown(f"**{split} image #{i}**, label **{_label(ds, split, i)}**, {d:.3f} {unit or 'latent units'} "
                   f"from the query.  \nmean of q(z|x): [{', '.join(f'{v:.2f}' for v in mu[0][:8])}"
                   f"{', ...' if mu.shape[1] > 8 else ''}]")
        c.caption("Open it on another page (its encoded mean becomes the Decode point; Posterior shows its q):")
        open_links(c, ctx, split, i)


def decode_neighbours(ctx, lat, z: np.ndarray, k: int = 6) -> None:
    """The k test images nearest the Decode point z (D,) by Euclidean distance between means: one strip."""
    if lat is None or ctx.dataset is None:
        return
    pos, dist = nearest_neighbours(np.asarray(z, np.float64), lat.mu, k=k)
    idx = lat.index[pos]
    show(grid(ctx.dataset.test.images[idx], ncol=len(idx), width=min(420, 70 * len(idx))),
         caption="nearest test images: " + ", ".join(f"#{i} ({_label(ctx.dataset, 'test', int(i))}) {d:.2f}"
                                                     for i, d in zip(idx, dist)))
