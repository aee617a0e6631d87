"""The Latent map's search/filter bar, 'Colour by' values and colour range (Streamlit glue over map.filters).

    options = colour_choices(ds, latent_dim)                            # label, factors, z1..zD, errors, log p(x)
    k = likelihood_k(container, colour_by, n)                          # the K slider under a likelihood colour
    colour_by, values = colour_values(ctx, view, split, colour_by, likelihood, k)   # values (N,) or None (label)
    value_range = colour_range(container, values)                       # (lo, hi) clipped, or None
    flt = filter_bar(ctx, split, likelihood)                            # a filters.MapFilter
    view, keep = apply_filter(view, flt, likelihood)                    # the kept points' view, (N,) bool
    isolate_buttons(ctx, split, indices)                                # under a selection: show only it
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from vae.ui.map import filters, ranking
from vae.ui.map.latent_map import colour_options

ISOLATED = "_vae_map_isolated"          # (model id, dataset key, split, indices) of an isolated selection
LABELS_KEY, INDEX_KEY, RANGE_KEY = "map_f_labels", "map_f_index", "map_colour_pct"


def colour_choices(dataset, latent_dim: int) -> list[str]:
    """What the map can be coloured by: label, factors, each latent dimension, the reconstruction error and
    the likelihood ranking's log p(x) and gap."""
    return (colour_options(dataset) + filters.dim_options(latent_dim)
            + [filters.RECON_ERROR, ranking.COLOUR_LOG_PX, ranking.COLOUR_GAP])


@st.cache_data(max_entries=8, show_spinner="Reconstructing the mapped images ...")
def _recon_error(model_id: str, dataset_key: str, split: str, n: int, _model, _images, _mu) -> np.ndarray:
    from vae.analysis.latent import decode_images

    out = np.empty(len(_mu), np.float32)
    for s in range(0, len(_mu), 8192):           # decoded in slices: 70,000 decoded images at once is 220 MB
        images = _images[s:s + 8192]
        images = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
        out[s:s + 8192] = filters.reconstruction_error(images, decode_images(_model, _mu[s:s + 8192]))
    return out


def likelihood_k(container, colour_by: str, n: int) -> int | None:
    """Under a likelihood colour, the 'K (importance samples)' slider in `container` (its default: 100, or 10
    on a map of more than 10,000 points); None for any other colour."""
    if colour_by not in (ranking.COLOUR_LOG_PX, ranking.COLOUR_GAP):
        return None
    default = ranking.map_default_k(n)
    return int(container.select_slider(
        "K (importance samples)", ranking.K_CHOICES, value=default, key=f"map_lik_k_{default}",
        help="samples per image for the IWAE estimate of log p(x): the cost grows with K (K decoder passes an "
             "image); a larger K gives a tighter estimate and a truer gap"))


def colour_values(ctx, view, split: str, colour_by: str, likelihood, k: int | None = None
                  ) -> tuple[str, np.ndarray | None]:
    """(colour_by, (N,) values over view.lat or None: colour by label). A likelihood colour without a
    ranking (with `k` samples; default ranking.DEFAULT_K) starts it in the background, shows its progress
    and colours by label meanwhile."""
    lat, ds = view.lat, ctx.dataset
    if colour_by in (ranking.COLOUR_LOG_PX, ranking.COLOUR_GAP):
        if likelihood is None:
            k = int(k or ranking.DEFAULT_K)
            task = ranking.ranking_task(ctx, split, len(lat.index), k=k)     # IWAE, in the background
            from vae.ui.tasks import show_task

            show_task(task, f"IWAE log p(x) (K = {k}) of {len(lat.index):,} points")
            return "label", None
        return colour_by, likelihood[0] if colour_by == ranking.COLOUR_LOG_PX else likelihood[0] - likelihood[1]
    if colour_by == filters.RECON_ERROR:
        images = getattr(ds, split).images[np.asarray(lat.index)]
        return colour_by, _recon_error(ctx.lm.id, ctx.dataset_key, split, len(lat.index), ctx.lm.model, images,
                                       lat.mu).astype(np.float64)
    dims = filters.dim_values(colour_by, lat.mu)
    if dims is not None:
        return colour_by, dims
    if lat.factors is not None and colour_by in getattr(ds, "factor_names", ()):
        return colour_by, lat.factors[:, list(ds.factor_names).index(colour_by)].astype(np.float64)
    return "label", None


def colour_range(container, values: np.ndarray | None) -> tuple[float, float] | None:
    """The 'Colour range' percentile slider (2nd to 98th by default) and the value range it gives, or None."""
    if values is None:
        return None
    pct = container.slider("Colour range (percentiles)", 0, 100, (2, 98), key=RANGE_KEY,
                           help="the colour scale runs between these percentiles of the values; points beyond "
                                "them take the end colours, so a few extreme points do not wash out the rest")
    return filters.clipped_range(values, pct)


def filter_bar(ctx, split: str, likelihood) -> filters.MapFilter:
    """The 'Search and filter' expander: labels, indices, a log p(x) range (when ranked); the isolated
    selection's 'Show all points' button. Returns the filter (inactive: every point)."""
    ds = ctx.dataset
    iso = st.session_state.get(ISOLATED)
    isolated = tuple(iso[3]) if iso is not None and iso[:3] == (ctx.lm.id, ctx.dataset_key, split) else None
    if isolated is not None:
        a, b = st.columns([3, 1])
        a.info(f"Showing only the {len(isolated):,} isolated points.", icon=":material/filter_alt:")
        b.button("Show all points", key="map_show_all", icon=":material/select_all:",
                 on_click=st.session_state.pop, args=(ISOLATED, None))
    names = list(ds.class_names)
    chosen = st.session_state.get(LABELS_KEY) or []
    typed = st.session_state.get(INDEX_KEY) or ""
    with st.expander("Search and filter", expanded=bool(chosen or typed.strip()), icon=":material/search:"):
        c1, c2, c3 = st.columns([1.4, 1, 1.4])
        chosen = c1.multiselect("Labels", names, key=LABELS_KEY, placeholder="every label",
                                help="show only points of these labels")
        typed = c2.text_input("Indices", key=INDEX_KEY, placeholder="e.g. 7, 100-199",
                              help=f"dataset indices into the {split} split: single ones or ranges a-b")
        log_px = None
        if likelihood is not None:
            v = np.asarray(likelihood[0], np.float64)
            lo, hi = float(np.floor(v.min())), float(np.ceil(v.max()))
            if hi > lo:
                got = c3.slider("log p(x) range (nats)", lo, hi, (lo, hi), step=max((hi - lo) / 200, 0.01),
                                key=f"map_f_logpx_{lo:g}_{hi:g}", help="IWAE log p(x) of the likelihood ranking")
                log_px = None if got == (lo, hi) else (float(got[0]), float(got[1]))
        else:
            c3.caption("A log p(x) range filter appears once the likelihood ranking is computed (Colour by "
                       "log p(x) starts it).")
    labels = tuple(names.index(c) for c in chosen) if chosen else None
    return filters.MapFilter(labels, typed, log_px, isolated)


def apply_filter(view, flt: filters.MapFilter, likelihood):
    """(view of the kept points, keep (N,) bool over the input view, likelihood cut the same way).

    An unreadable index text is said on the page and filters nothing."""
    n = len(view.lat.index)
    if not flt.active:
        return view, np.ones(n, bool), likelihood
    try:
        keep = filters.filter_mask(flt, view.lat.index, view.lat.labels,
                                   None if likelihood is None else likelihood[0])
    except filters.FilterInputError as e:
        st.error(f"Indices: {e}")
        return view, np.ones(n, bool), likelihood
    if keep.all():
        return view, keep, likelihood
    pos = np.flatnonzero(keep)
    cut = None if likelihood is None else (likelihood[0][pos], likelihood[1][pos], likelihood[2])
    st.caption(f"Search and filter: showing {len(pos):,} of {n:,} points.")
    return filters.take_view(view, pos), keep, cut


def isolate_buttons(ctx, split: str, indices: np.ndarray) -> None:
    """Under a selection of several points (dataset indices (k,)): 'Isolate selection' (the map then shows
    only them). The indices are sorted into the filter's tuple only when the button is clicked."""
    if len(indices) < 2:
        return
    st.button(f"Isolate selection ({len(indices):,} points)", key="map_isolate", icon=":material/filter_center_focus:",
              help="show only the selected points on the map; 'Show all points' above the map brings the rest back",
              on_click=_isolate, args=((ctx.lm.id, ctx.dataset_key, split), np.asarray(indices, np.int64)))


def _isolate(where: tuple[str, str | None, str], indices: np.ndarray) -> None:
    """The 'Isolate selection' click: (model id, dataset key, split, sorted unique indices) into ISOLATED."""
    st.session_state[ISOLATED] = (*where, tuple(np.unique(indices).tolist()))
