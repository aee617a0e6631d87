"""Download buttons for a map: all its points as CSV, a selection as CSV and as a zip of PNGs; the map as PNG.

The map itself is exported by Plotly's own "download plot as png" button (the chart's toolbar), set
by `png_config` to print resolution (4x the chart's pixels); no server-side renderer is needed.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from vae.analysis.export import images_zip, map_csv


def png_config(name: str, scale: int = 4) -> dict:
    """Plotly config for the chart's camera button: a PNG `scale` times the chart's size."""
    return {"toImageButtonOptions": {"format": "png", "scale": scale, "filename": name}}


def _csv(view, ds, positions: np.ndarray, likelihood) -> bytes:
    lat = view.lat
    log_px = elbo = None
    if likelihood is not None:
        log_px, elbo = likelihood[0][positions], likelihood[1][positions]
    return map_csv(lat.index[positions], lat.labels[positions], lat.mu[positions], lat.logvar[positions],
                   view.xy[positions], class_names=ds.class_names, axis_names=view.axis_names,
                   factors=None if lat.factors is None else lat.factors[positions],
                   factor_names=getattr(ds, "factor_names", ()), log_px=log_px, elbo=elbo)


def export_buttons(ctx, view, split: str, indices: np.ndarray, likelihood=None) -> None:
    """Buttons: the map's N points as CSV; with a selection, it as CSV and as a zip of its images.

    indices: dataset indices (k,) of the selection (may be empty).
    likelihood: (log_px (N,), elbo (N,), K) aligned with view.lat, when computed.
    """
    ds, lat = ctx.dataset, view.lat
    name = f"{ctx.lm.label}-{split}-{view.method}".replace("/", "-").replace(" ", "-")
    n = len(lat.index)
    with st.container(horizontal=True):
        st.download_button(f"Map as CSV ({n:,} points)", data=lambda: _csv(view, ds, np.arange(n), likelihood),
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
    st.caption("The map itself: the camera button of the chart's toolbar saves it as a PNG at 4x its size.")
