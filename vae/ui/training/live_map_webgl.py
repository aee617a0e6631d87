"""The Train page's live latent map drawn by the WebGL component (vae.ui.components.webgl_scatter).

While the job runs, the page's fragment redraws every second and each new frame is sent with the same
component key: the browser holds the same points (the fixed subset of test images), so a new frame's
coordinates move them there in the component's animated transition (750 ms). Once the run has stopped,
every frame (at most MAX_REPLAY_FRAMES, evenly spaced, first and last kept) is sent once as float32
(F, N, 2) and replayed in the browser (Play/Pause, a frame slider, the epoch in the title; no server
round trip a frame). A whole Play lasts about 15 s however many frames (about 250 ms a frame at 60 frames,
the Plotly replay's pace); a few frames move at the live map's own 750 ms. vae.ui.training.live_map draws the Plotly figure where the browser has no WebGL.

Each frame fills the canvas: it is normalised on its own extent (`own_ndc`: the quantiles of its points,
a square around them), the browser scales it by one factor to fill the canvas (wider than tall: `fit`),
and the transition animates the change of scale from frame to frame (the early
frames of a run, its points bunched near the origin, would otherwise be a dot in the middle of an extent
that holds the later, wider frames). The axis scale is therefore not comparable between frames.

A frame is 10 bytes a point (x, y float32, a uint16 label) or 12 (a float32 factor value); a frame the browser
already holds (same data_key) is not sent again. A replay of 60 frames of 2,000 points is 960 KB of frames.

Hovering a point shows its image: the browser asks (the component's `need`: the hovered point and its nearest
points it has no image of; the points in view are not drawn as thumbnails here, `view_images=False`: they move
every frame) and the next run answers with an atlas of those images, taken from the dataset the run trains on
(the job's, never the sidebar's: `why_no_images` checks that the split holds the run's labels at the subset's
positions; where it does not, the hover names the class and the hint says why). Every run answers the ask that
stands (`thumbnails_to_send`: an answer Streamlit dropped, as it drops a run's unsent messages when the fragment's
next run starts, comes again a second later), and the browser, sent `ack_thumbs`, empties its ask as soon as
the images come, so the fragment's later runs send none. The browser keeps every image it got, per position,
across frames and into the replay. The component's key names the subset (`live_key`), so another run's points
start afresh.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import streamlit as st

from vae.analysis.live_map import LatentFrame, LiveMapData, fixed_axes, subset_images, why_no_images
from vae.ui.colours import label_colour
from vae.ui.components.webgl_scatter import atlas_png, read_value, thumbnails_to_send, webgl_scatter
from vae.ui.map import webgl_map as wm

__all__ = ["frame_extent", "frame_ndc", "own_ndc", "epoch_text", "replay_frames", "draw_live_frame", "draw_replay",
           "live_webgl_panel", "live_key", "live_hint", "MAX_REPLAY_FRAMES"]

MAX_REPLAY_FRAMES = 60


def live_key(data: LiveMapData) -> str:
    """The component's key: names the subset (its split, positions and labels), so the browser's thumbnails of
    one run's points never show for another's; ends with _webgl (a "no WebGL" answer counts for every map)."""
    h = hashlib.blake2b(digest_size=6)
    for part in (data.split.encode(), np.asarray(data.index, "<i8").tobytes(), np.asarray(data.labels, "<i8").tobytes()):
        h.update(part)
    return f"train_live_map_{h.hexdigest()}" + wm.WEBGL_SUFFIX


def live_hint(no_images: str | None) -> str:
    """What works on the live map (a pick is no query here: a lasso marks points, kept from frame to frame and
    into the replay, to follow where they go); no_images: why hovering shows no image."""
    what = "its image" if no_images is None else f"its class (no image: {no_images})"
    return (f"drag to pan, wheel to zoom, Reset view to see every point; hover a point for {what}; "
            "Shift-drag or Lasso marks points to follow them from frame to frame, double-click clears")


def _thumbnails(data: LiveMapData, dataset, key: str) -> dict:
    """The component's atlas arguments: the images of the browser's standing ask, from the run's data set."""
    ids = thumbnails_to_send(read_value(st.session_state.get(key)), len(data.index))
    if not ids:
        return {}
    return dict(atlas=atlas_png(subset_images(data, dataset, ids)), atlas_ids=ids)


def _draw(data: LiveMapData, dataset, xy: np.ndarray, **kw) -> None:
    """The component (key live_key(data)) with the images asked for, or none and why (see the docstring)."""
    key = live_key(data)
    no_images = why_no_images(data, dataset)
    thumbs = {} if no_images else _thumbnails(data, dataset, key)
    hint = live_hint(no_images) + kw.pop("hint_more", "")
    value = webgl_scatter(xy, key=key, hint=hint, hover_images=no_images is None, view_images=False, fit=True,
                          ack_thumbs=True, **thumbs, **kw)
    wm.fall_back_if_no_webgl(value)        # the Plotly live map instead


def replay_frames(frames, max_frames: int = MAX_REPLAY_FRAMES) -> list[int]:
    """Indices of at most max_frames frames, evenly spaced, the first and the last always in."""
    n = len(frames)
    if n <= max_frames:
        return list(range(n))
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, max_frames)})


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


def own_ndc(frame: LatentFrame) -> np.ndarray:
    """The frame's points (n, 2) float32 normalised on the frame's own extent: they fill the canvas."""
    return frame_ndc(frame, *frame_extent([frame]))


def frame_title(data: LiveMapData, frame: LatentFrame) -> str:
    """The title above a frame: what the points are (the subset's split) and the frame's epoch."""
    return f"latent means of {len(data.labels):,} {data.split} images, epoch {epoch_text(frame)}"


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


def draw_live_frame(data: LiveMapData, frame: LatentFrame, color_by: str = "label", height: int = 460,
                    dataset=None) -> bool:
    """Draw one frame with the component; True (a browser without WebGL reruns to the Plotly map).
    dataset: the run's (hovered points show their images from it; None: no images)."""
    xy = own_ndc(frame)
    digest = hashlib.blake2b(xy.tobytes(), digest_size=8).hexdigest()
    data_key = f"live|{len(xy)}|{color_by}|{digest}"
    st.markdown(f"**{frame_title(data, frame)}**")
    _draw(data, dataset, xy, data_key=data_key, height=height, **_colours(data, color_by))
    return True


def draw_replay(data: LiveMapData, color_by: str = "label", height: int = 460, dataset=None) -> bool:
    """Every replay frame sent once (float32 (F, N, 2)), played in the browser; shows the last frame first."""
    shown = [data.frames[i] for i in replay_frames(data.frames)]
    frames = np.stack([own_ndc(f) for f in shown])
    digest = hashlib.blake2b(frames.tobytes(), digest_size=8).hexdigest()
    data_key = f"replay|{frames.shape[1]}|{len(frames)}|{color_by}|{digest}"
    # a line where the live frame has its title: the component keeps its place in the page (see live_map_panel)
    st.markdown(f"**replay of {len(shown)} frames, epochs {epoch_text(shown[0])} to {epoch_text(shown[-1])}**")
    _draw(data, dataset, frames[-1], data_key=data_key, height=height, frames=frames,
          frame_titles=[frame_title(data, f) for f in shown], hint_more="; Play replays the frames, the slider picks one",
          **_colours(data, color_by))
    return True


def live_webgl_panel(data: LiveMapData, color_by: str, running: bool, dataset=None) -> bool:
    """The newest frame in WebGL while the run trains, every frame's replay once it has stopped (two or more);
    False where this browser has no WebGL (the caller draws the Plotly figure). dataset: the run's own (the
    hovered points' images), or None."""
    if wm.no_webgl():
        return False
    if not running and len(data.frames) >= 2:
        return draw_replay(data, color_by, dataset=dataset)
    return draw_live_frame(data, data.frames[-1], color_by, dataset=dataset)
