"""Latent map: where the encoder puts the data, projected to 2-D or 3-D; select points to see them."""

import numpy as np
import streamlit as st

from vae.analysis.latent import decode_numpy
from vae.analysis.projection_methods import PROJECTIONS
from vae.ui.decode import directions as saved_directions
from vae.ui.map import neighbours as nb
from vae.ui.map import map_controls as mc
from vae.ui.map import ranking
from vae.ui.map import webgl_map as wm
from vae.ui import loaders, state
from vae.ui.point_link import open_links
from vae.ui.map.export import export_buttons, png_config
from vae.ui.components.hover_thumbs import hover_thumbnails
from vae.ui.images import show, tiles
from vae.ui.map.latent_map import (METHODS, layout_preview, manifold_background, map_figure, map_view,
                                   selected_box, selected_points)
from vae.ui.latents import dataset_latents
from vae.ui.sidebar import current
from vae.ui.tasks import Task, show_task

ctx = current()
st.title("Latent map")
lm = ctx.lm
if lm is None or ctx.dataset is None:
    st.info(ctx.dataset_note or "Open a model and a dataset in the sidebar first.")
    state.stop()
D, ds = lm.latent_dim, ctx.dataset

c1, c2, c3, c4, c5 = st.columns([1, 1.3, 1.6, 1, 1.3])
splits, split_help = loaders.split_choices(ds)
splits = splits + (["all"] if "train" in splits else [])          # train then test: every image
if st.session_state.get("map_split") not in (None, *splits):      # a split no longer loaded
    st.session_state.pop("map_split")
split = c1.radio("Split", splits, horizontal=True, key="map_split", help=split_help,
                 format_func=lambda s: "all (train + test)" if s == "all" else s)
n_total = len(getattr(ds, split))
directions = saved_directions.saved(lm.id)
methods = (["latent"] if D == 2 else []) + list(PROJECTIONS) + (["custom"] if len(directions) >= 2 else [])
method = c3.radio("Projection", methods, format_func=METHODS.get, horizontal=True, key=f"map_method_{D == 2}")
how = PROJECTIONS.get(method)
dims_ok = [2, 3] if how is not None and how.max_components(D) >= 3 else [2]
if len(dims_ok) > 1:
    k = c4.radio("Map", dims_ok, format_func=lambda d: f"{d}-D", horizontal=True, key="map_k")
else:
    k = dims_ok[0]
    c4.caption(f"Map: {k}-D")
# The default is the widget's own (value=True), not a session-state default: the browser falls back to a widget's
# declared default when it never saw the run that set the state (seen under load: WebGL switched itself off on the
# map's first rerun). A link's map=plotly sets the key before this line (url_state).
use_webgl = k == 2 and c4.toggle("WebGL", value=True, key="map_webgl",
                                 help="every point in the browser's GPU (lasso, zoom to the images); off: the Plotly map")
n, cap_note = wm.point_choice(c2, split, n_total, use_webgl)
colour_choices = mc.colour_choices(ds, D)
if st.session_state.get(f"map_colour_{ds.name}") not in (None, *colour_choices):   # a dimension of another model
    st.session_state.pop(f"map_colour_{ds.name}")
colour_by = c5.selectbox("Colour by", colour_choices, key=f"map_colour_{ds.name}")
lik_k = mc.likelihood_k(c5, colour_by, n)            # None unless colouring by log p(x) or the gap

opts = st.columns([1, 1, 2])
settings, axes = {}, None
for i, setting in enumerate(how.settings if how is not None else ()):     # the method's own choices
    value = opts[i % 2].select_slider(setting.label, list(setting.choices), value=setting.default,
                                      key=setting.state_key, help=setting.help or None)
    settings[setting.name] = setting.cast(value)
if method == "custom":
    names = list(directions)
    ax1 = opts[0].selectbox("x axis", names, index=0, key="map_axis_x")
    ax2 = opts[1].selectbox("y axis", names, index=1, key="map_axis_y")
    if ax1 == ax2:
        st.warning("Choose two different directions for the axes.")
        state.stop()
    axes = saved_directions.axes_for(lm.id, (ax1, ax2), dataset_latents(ctx, split, n))
background = None
if method == "latent" and not use_webgl:
    if opts[0].toggle("Decoded images behind", key="map_manifold",
                      help="the manifold figure of Kingma & Welling: decoded images on a grid over the map"):
        background = "on"

view = map_view(ctx, split, n, method, k, settings, axes)
# What comes and goes above the map (a projection's progress, notes) sits in containers: the map keeps its place in
# the page, so the browser keeps its frame (a component whose place moves is drawn anew: no transition to the new
# projection, the selection and the images lost; streamlit/streamlit#3015)
with st.container():
    if isinstance(view, Task):
        # a slow projection (t-SNE, UMAP) is computing in the background: show PCA now, poll the task, rerun when
        # it is done
        task = view
        preview = layout_preview(dataset_latents(ctx, split, n), METHODS[method], how.step) if k == 2 else None
        show_task(task, f"{METHODS[method]} of {n:,} points", preview=preview)
        if task.error is None:
            st.caption(f"PCA is shown below while {METHODS[method]} runs; the map switches when it is done (computed "
                       "once per model, data and settings).")
        view = map_view(ctx, split, n, "pca" if D >= 2 else "latent", min(k, max(2, min(D, 3))))

bg = manifold_background(lm.model, view) if background and view.method == "latent" else None
likelihood = ranking.likelihood_values(ctx, split, view.lat.index, k=lik_k)
colour_by, colour_values = mc.colour_values(ctx, view, split, colour_by, likelihood, lik_k)
value_range = mc.colour_range(opts[2], colour_values)
flt = mc.filter_bar(ctx, split, likelihood)
view, keep, likelihood = mc.apply_filter(view, flt, likelihood)
if colour_values is not None:
    colour_values = colour_values[keep]
if len(view.lat.index) == 0:
    st.warning("No point matches the search and filter; change or clear it above.")
    state.stop()
with st.container():
    if cap_note:
        st.caption(cap_note)
    if view.note:
        st.caption(view.note)
chart_key = f"map_{lm.id}_{split}_{n}_{view.method}_{view.k}" + (f"_f{flt.signature()}" if flt.active else "")
webgl = use_webgl and view.k == 2 and not wm.no_webgl()
if webgl:
    traces = [view.lat.index]
    webgl_key = wm.webgl_key(lm.id, split, n, view.k,     # not per projection: a new one moves the points there
                             flt.signature() if flt.active else "")   # a new filter: new points, a fresh selection
    query = nb.map_query(ctx, view, split, traces, wm.previous_event(webgl_key, view.xy))
    found = nb.find_neighbours(view.lat, query)
    event, webgl = wm.draw_webgl_map(ctx, view, split, colour_by, colour_values, query, found, key=webgl_key,
                                     value_range=value_range, png_name=f"latent-map-{view.method}")
    decodes = view.from_map is not None
    st.caption("Hover a point to see its image; click it to pick it" + ("; click an empty spot to decode it"
               if decodes else "") + "; Lasso or Box (or Shift-drag) selects" + (" (a box also decodes its centre)"
                                                                                  if decodes else "")
               + "; double-click clears; zoom in with the wheel until the points show their images.")
else:
    if use_webgl and view.k == 2:                  # no WebGL in this browser: a sample, drawn as SVG
        st.warning(wm.fallback_note(len(view.lat.index)))
        view, kept = wm.sample_view(view, wm.FALLBACK_POINTS)
        colour_values = None if colour_values is None else np.asarray(colour_values)[kept]
        likelihood = None if likelihood is None else (likelihood[0][kept], likelihood[1][kept], likelihood[2])
    fallback = use_webgl and view.k == 2                 # the click grid is a Scattergl trace: not without WebGL
    fig, traces = map_figure(view, ds, colour_by, background=bg, click_to_decode=not fallback, color=colour_values,
                             color_range=value_range)
    query = nb.map_query(ctx, view, split, traces, st.session_state.get(chart_key))
    found = nb.find_neighbours(view.lat, query)
    if view.k == 3:
        nb.mark_on_map(fig, traces, view, query, found)
    fig.update_layout(meta="vae-map")                     # the hover thumbnails find the chart by this tag
    event = st.plotly_chart(fig, key=chart_key, on_select="rerun", selection_mode=("points", "box", "lasso"),
                            config={"scrollZoom": True, **png_config(f"latent-map-{view.method}")})
    hover_thumbnails("vae-map", getattr(ds, split).images[np.asarray(view.lat.index)], view.lat.index,
                     f"{ctx.dataset_key}|{split}|{len(view.lat.index)}")
    if view.k == 2:
        nb.ring_on_map("vae-map", view, query, found)     # over the figure: the chart keeps its selection
    if view.k == 3:
        st.caption("Rotate with the mouse; hover a point for its index and label. A 3-D map cannot be clicked or "
                   "selected: switch Map to 2-D to pick or select points and list their neighbours.")
    else:
        decodes = view.from_map is not None
        st.caption("Click a point to see its image" + ("; click an empty spot to decode it" if decodes else "")
                   + (" (PCA inverse transform)" if view.method == "pca" else "")
                   + ". Box and lasso select are in the chart's toolbar" + (" (a box also decodes its centre)"
                                                                             if decodes else "")
                   + "; double-click to clear.")

indices, spots = selected_points(event, traces)          # dataset indices int64 (k,): a lasso may hold 1,000,000
images = getattr(ds, split).images
if len(indices):
    state.set_selection(state.MapSelection(lm.id, ctx.dataset_key, split, indices.tolist()))
    shown = indices[:100]
    st.subheader(f"{len(indices)} selected point{'s' if len(indices) > 1 else ''}")
    left, right = st.columns(2)
    sel = images[np.asarray(shown)]
    show(tiles(sel), container=left,           # the same tile size for 1 or 100 selected images
         caption=f"the selected {split} images" + (f" (first {len(shown)})" if len(indices) > len(shown) else ""))
    lat_idx = np.searchsorted(view.lat.index, shown)
    recon = decode_numpy(lm.model, view.lat.mu[lat_idx])
    show(tiles(recon), container=right, caption="decoded from their latent means")
    labels = getattr(ds, split).labels[np.asarray(shown)].tolist()
    st.caption("indices: " + ", ".join(f"{i} ({ds.class_names[l]})" for i, l in zip(shown[:30], labels[:30]))
               + (" ..." if len(shown) > 30 else "") + " — the Decode and Interpolate pages can start from them.")
    mc.isolate_buttons(ctx, split, indices)
    if len(indices) == 1:
        open_links(st, ctx, split, int(indices[0]))
if spots and view.from_map is not None and view.k == 2:
    z = view.from_map(np.asarray(spots[:1], dtype=np.float64))[0]
    if not len(indices):
        state.set_selection(state.MapSelection(lm.id, ctx.dataset_key, split, [], point=z))
    st.subheader("Decoded at the centre of the box" if selected_box(event) else "Decoded at the clicked spot")
    img = decode_numpy(lm.model, z[None])[0]
    show(img, 224, caption=f"map ({spots[0][0]:.2f}, {spots[0][1]:.2f}) → z = "
                           f"[{', '.join(f'{v:.2f}' for v in z[:6])}{', ...' if len(z) > 6 else ''}]")
    st.caption(("The PCA inverse transform: the other directions are held at the data's mean. "
                if view.method == "pca" else "") + "Select points to see their images; the Decode page can "
               "start from the first selected point" + ("." if len(indices) else " or from this location."))

nb.neighbours_section(ctx, view, split, query, found)
st.subheader("Export")
export_buttons(ctx, view, split, indices, likelihood, webgl=webgl)
