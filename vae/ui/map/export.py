"""Download buttons for a map: all its points as CSV, a selection as CSV and as a zip of PNGs; the map as PNG.

The map itself is exported in the browser, no server-side renderer needed: the Plotly map by Plotly's own
"download plot as png" button (the chart's toolbar), set by `png_config` to print resolution (4x the chart's
pixels); the WebGL map by its own "Map as PNG" button above the canvas (the map as drawn, with its selection,
rings and legend, 4x the canvas's pixels: vae/ui/components/webgl_scatter/frontend/src/snapshot.js).

A small map's CSV (up to EAGER_CSV_VALUES numbers) is made in the run, once per content (`_eager_csv`), and
served as a file whose address is its content's hash: the same on every rerun, so a click at any moment
downloads. A deferred file (`data=callable`, made on click) gets a new id every run, and the end of a rerun
drops the old one: a click during the rerun the WebGL map makes after its first draw, read by a busy server
after that rerun ended, got "Failed to generate file for download". Bigger maps stay deferred (their CSV
costs seconds to make).
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from vae.analysis.export import images_zip, map_csv


def png_config(name: str, scale: int = 4) -> dict:
    """Plotly config for the chart's camera button: a PNG `scale` times the chart's size."""
    return {"toImageButtonOptions": {"format": "png", "scale": scale, "filename": name}}


EAGER_CSV_VALUES = 50_000      # points x (2 D + 4) numbers: up to 5,000 2-D points or 2,000 8-D ones (0.1-0.2 s)
_EAGER_MEMO = "_vae_map_csv_eager"   # session key: (content digest, CSV bytes) of the last small map


def _csv(view, ds, positions: np.ndarray, likelihood) -> bytes:
    lat = view.lat
    log_px = elbo = None
    if likelihood is not None:
        log_px, elbo = likelihood[0][positions], likelihood[1][positions]
    return map_csv(lat.index[positions], lat.labels[positions], lat.mu[positions], lat.logvar[positions],
                   view.xy[positions], class_names=ds.class_names, axis_names=view.axis_names,
                   factors=None if lat.factors is None else lat.factors[positions],
                   factor_names=getattr(ds, "factor_names", ()), log_px=log_px, elbo=elbo)


def _eager_csv(view, ds, likelihood) -> bytes | None:
    """The whole map's CSV made now, for a map of at most EAGER_CSV_VALUES numbers (else None); remembered
    per session by a digest of everything it holds, so a rerun of the same map makes nothing."""
    lat = view.lat
    n, d = lat.mu.shape
    if n * (2 * d + 4) > EAGER_CSV_VALUES:
        return None
    digest = hashlib.sha256(repr((view.axis_names, list(ds.class_names), getattr(ds, "factor_names", ()))).encode())
    for a in (lat.index, lat.labels, lat.mu, lat.logvar, view.xy, lat.factors,
              *(likelihood[:2] if likelihood is not None else ())):
        if a is not None:
            a = np.ascontiguousarray(a)
            digest.update(repr((a.dtype.str, a.shape)).encode() + a.tobytes())
    key = digest.hexdigest()
    memo = st.session_state.get(_EAGER_MEMO)
    if memo is None or memo[0] != key:
        memo = (key, _csv(view, ds, np.arange(n), likelihood))
        st.session_state[_EAGER_MEMO] = memo
    return memo[1]


def export_buttons(ctx, view, split: str, indices: np.ndarray, likelihood=None, webgl: bool = False) -> None:
    """Buttons: the map's N points as CSV; with a selection, it as CSV and as a zip of its images.

    indices: dataset indices (k,) of the selection (may be empty).
    likelihood: (log_px (N,), elbo (N,), K) aligned with view.lat, when computed.
    webgl: the map is drawn by the WebGL component (the caption says where its PNG button is).
    """
    ds, lat = ctx.dataset, view.lat
    name = f"{ctx.lm.label}-{split}-{view.method}".replace("/", "-").replace(" ", "-")
    n = len(lat.index)
    with st.container(horizontal=True):
        eager = _eager_csv(view, ds, likelihood)
        st.download_button(f"Map as CSV ({n:,} points)",
                           data=eager if eager is not None else lambda: _csv(view, ds, np.arange(n), likelihood),
                           file_name=f"{name}.csv", mime="text/csv", on_click="ignore", key="map_csv",
                           icon=":material/table:",
                           help="index, label, factors, mu and sigma of q(z|x) per dimension, the map coordinates"
                                + (", log p(x) and ELBO (nats)" if likelihood is not None else ""))
        if len(indices):
            indices = np.asarray(indices, np.int64)
            pos = np.searchsorted(lat.index, indices)
            pos = pos[(pos < n) & (lat.index[np.minimum(pos, n - 1)] == indices)]
            images = getattr(ds, split).images
            st.download_button(f"Selection as CSV ({len(pos):,})", data=lambda: _csv(view, ds, pos, likelihood),
                               file_name=f"{name}-selection.csv", mime="text/csv", on_click="ignore",
                               key="map_sel_csv", icon=":material/table:")
            st.download_button(f"Selection as PNGs (.zip, {len(pos):,})", on_click="ignore", key="map_sel_zip",
                               data=lambda: images_zip(images[lat.index[pos]].numpy(),
                                                       [f"{split}-{int(i)}.png" for i in lat.index[pos]],
                                                       scale=max(1, 112 // images.shape[-1])),
                               file_name=f"{name}-selection.zip", mime="application/zip", icon=":material/folder_zip:")
    st.caption(png_caption(webgl))


def png_caption(webgl: bool) -> str:
    """Where the map itself is saved as PNG: the WebGL map's own button, or the Plotly chart's camera."""
    if webgl:
        return ("The map itself: the \"Map as PNG\" button above it saves it as drawn (this view, its colours, the "
                "selection and the legend) at 4x its size.")
    return "The map itself: the camera button of the chart's toolbar saves it as a PNG at 4x its size."
