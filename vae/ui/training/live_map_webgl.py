"""The Train page's live latent map drawn by the WebGL component (vae.ui.components.webgl_scatter).

While the job runs, the page's fragment redraws every second and each new frame is sent with the same
component key: the browser holds the same points (the fixed subset of test images), so a new frame's
coordinates move them there in the component's animated transition (750 ms). Once the run has stopped,
the replay is the Plotly figure of vae.ui.training.live_map (every frame sent once, played in the browser).

The extent is fixed across frames (`frame_extent`): every frame is normalised with one centre and half-span
that hold (nearly) every point of every frame, so what moves is the points, not the picture. While training,
the extent grows in steps (powers of 2^(1/4)) as new frames spread, instead of with every frame.

A frame is 10 bytes a point (x, y float32, a uint16 label) or 12 (a float32 factor value); a frame the browser
already holds (same data_key) is not sent again.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import streamlit as st

from vae.analysis.live_map import LatentFrame, LiveMapData, fixed_axes
from vae.ui.colours import label_colour
from vae.ui.components.webgl_scatter import webgl_scatter
from vae.ui.map import webgl_map as wm

__all__ = ["frame_extent", "frame_ndc", "epoch_text", "draw_live_frame", "live_webgl_panel", "KEY"]

KEY = "train_live_map" + wm.WEBGL_SUFFIX    # ends with _webgl: a "no WebGL" answer counts for every map


def frame_extent(frames, snap: bool = False) -> tuple[np.ndarray, float]:
    """(centre (2,), half-span) of a square holding (nearly) every point of `frames` (fixed_axes' quantiles).

    snap=True rounds the half-span up to a power of 2^(1/4) and the centre to an eighth of it, so an extent
    computed over a growing list of frames changes only now and then (the points then rescale once).
    """
    (x0, x1), (y0, y1) = fixed_axes(frames)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    half = max((x1 - x0) / 2, (y1 - y0) / 2, 1e-9)
    if snap:
        step = 2.0 ** (math.ceil(math.log2(half) * 4) / 4)
        centre = np.round(centre / (step / 8)) * (step / 8)
        half = step * 1.125                 # the snapped centre moved by at most step / 16 per axis
    return centre, float(half)


def frame_ndc(frame: LatentFrame, centre: np.ndarray, half: float) -> np.ndarray:
    """The frame's points (n, 2) float32 in the component's coordinates: [-1, 1] on the extent."""
    return ((np.asarray(frame.xy, np.float64) - centre) / half).astype(np.float32)


def epoch_text(frame: LatentFrame) -> str:
    """The frame's epoch as titles show it: "3" at an epoch's end, "2.42" within one."""
    return f"{frame.epoch:.0f}" if abs(frame.epoch - round(frame.epoch)) < 1e-6 else f"{frame.epoch:.2f}"


def _colours(data: LiveMapData, color_by: str) -> dict:
    """The component's colour arguments: categories by label (the Latent map's colours) or a factor's values."""
    if color_by in data.factor_names and data.factors is not None:
        v = data.factors[:, data.factor_names.index(color_by)].astype(np.float64)
        lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
        return dict(values=v, colors=wm.ramp(), legend=None, names=None,
                    colorbar={"name": color_by, "lo": wm.legend_number(lo, lo, hi),
                              "hi": wm.legend_number(hi, lo, hi), "colors": wm.ramp(8)})
    labels = np.asarray(data.labels, np.int64)
    n_cat = int(labels.max()) + 1 if len(labels) else 1
    names = [data.class_names[c] if c < len(data.class_names) else str(c) for c in range(n_cat)]
    return dict(categories=labels, colors=[label_colour(c) for c in range(n_cat)], names=names,
                legend=[{"name": names[c], "color": label_colour(c)} for c in np.unique(labels)], colorbar=None)


def draw_live_frame(data: LiveMapData, frame: LatentFrame, centre: np.ndarray, half: float,
                    color_by: str = "label", height: int = 460) -> bool:
    """Draw one frame with the component (key KEY); True (a browser without WebGL reruns to the Plotly map)."""
    xy = frame_ndc(frame, centre, half)
    digest = hashlib.blake2b(xy.tobytes(), digest_size=8).hexdigest()
    data_key = f"live|{len(xy)}|{color_by}|{digest}"
    st.markdown(f"**latent means of {len(data.labels):,} test images, epoch {epoch_text(frame)}**")
    value = webgl_scatter(xy, data_key=data_key, height=height, key=KEY, **_colours(data, color_by))
    wm.fall_back_if_no_webgl(value)         # the Plotly live map instead
    return True


def live_webgl_panel(data: LiveMapData, color_by: str, running: bool) -> bool:
    """The newest frame in WebGL while the run trains; False where this browser has no WebGL, and once the
    run has stopped with frames to replay (the Plotly figure's replay, which animates in the browser)."""
    if wm.no_webgl() or (not running and len(data.frames) >= 2):
        return False
    centre, half = frame_extent(data.frames, snap=True)
    return draw_live_frame(data, data.frames[-1], centre, half, color_by)
