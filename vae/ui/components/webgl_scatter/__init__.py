"""WebGL scatter: every point of a map in the browser's GPU (regl-scatterplot), lasso, box and click back to Python.

A Streamlit v1 custom component (`components.declare_component(name, path=build/)`). The built bundle
(build/scatter.js, from the ES modules in frontend/src/ (entry main.js) and the npm package regl-scatterplot) is committed, so a
user needs no Node; rebuild with

    npm --prefix vae/ui/components/webgl_scatter/frontend ci && npm --prefix vae/ui/components/webgl_scatter/frontend run build

Points travel as bytes (Streamlit sends `bytes` arguments as binary, they arrive as a Uint8Array), not
JSON: x, y float32 normalised to [-1, 1] with one scale for both axes (8 bytes a point), a uint16
category (2 bytes) or a float32 value in [0, 1] (4 bytes). 1,000,000 points colour by label: 10 MB.

    xy_ndc, centre, half = normalise_xy(xy)                    # (N, 2) float32 in [-1, 1]
    value = webgl_scatter(xy_ndc, categories=labels, colors=LABEL_COLOURS, legend=[...], data_key=..., key="map")
    value["webgl"]       # False: the browser has no WebGL (draw something else)
    value["points"]      # int32 (k,) positions 0..N-1 of the selected points (lasso, box or click); value["seq"]
                         # counts selections; value["kind"]: "click", "lasso", "box", "spot" or "clear"
    value["box"]         # [x0, y0, x1, y1] normalised: the corners of the box that selected them (kind "box"), else None
    value["spot"]        # [x, y] normalised: a click on an empty place (value["kind"] == "spot"; sent when decodes)
    value["need"]        # positions whose thumbnails the browser wants (few hundred at most): send an atlas
                         # (the points in view when zoomed in, or a hovered point and its nearest neighbours)
    value["need_seq"]    # +1 per ask (the same positions asked again are a new value); value["instance"]: the
                         # browser frame's random id (a frame made anew never repeats the last frame's value)
    value["drawn"]       # the data_key whose points the browser holds (later reruns then send no point bytes)

The value comes back as bytes, not JSON (a lasso over 100,000 points is 400 KB of int32): a uint32 LE length,
that many bytes of UTF-8 JSON (every field but points), zero padding to a multiple of 4, then points int32 LE.
`decode_value` turns it into the dict above; `read_value(st.session_state[key])` reads it there.

Thumbnails: `atlas_png(images, positions)` packs images into one PNG grid, sent with `atlas_ids`; the
browser keeps what it was sent (per position), takes it out of its ask and asks only for points it has not got;
`thumbnails_to_send` answers the standing ask on every run (a lost answer is given again), and with
ack_thumbs=True the browser sends its emptied ask at once, so a page that reruns by itself (the live map's
fragment) sends an image once or twice, not every second. Hovering a point shows its image (and its
category's name from `names`) in a box beside it.

Transitions: a new data_key with as many points as the browser holds (another projection of the same
points, a live map's next frame) moves them to their new places in an animation; the selection and the
thumbnails are kept (positions must mean the same points).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
import streamlit.components.v1 as components

__all__ = ["webgl_scatter", "normalise_xy", "pack_points", "pack_frames", "atlas_png", "thumbnails_to_send", "decode_value",
           "read_value", "THUMB_MAX"]

_BUILD = Path(__file__).resolve().parent / "build"
_component = components.declare_component("vae_webgl_scatter", path=str(_BUILD))
THUMB_MAX = 400          # thumbnails per atlas (the browser asks for points in view when at most this many)


def normalise_xy(xy: np.ndarray, margin: float = 0.02) -> tuple[np.ndarray, np.ndarray, float]:
    """(xy_ndc float32 (N, 2) in [-1, 1], centre (2,), half-span): xy = centre + xy_ndc * half.

    One scale for both axes (the map keeps its aspect ratio); `margin` leaves a border inside [-1, 1].
    """
    xy = np.asarray(xy, dtype=np.float64)[:, :2]
    if len(xy) == 0:
        return np.zeros((0, 2), np.float32), np.zeros(2), 1.0
    lo, hi = xy.min(0), xy.max(0)
    centre = (lo + hi) / 2
    half = float(max((hi - lo).max() / 2, 1e-12)) * (1 + margin)
    return ((xy - centre) / half).astype(np.float32), centre, half


def pack_points(xy_ndc: np.ndarray, categories: np.ndarray | None = None,
                values: np.ndarray | None = None) -> dict[str, bytes | None]:
    """The binary arguments: xy float32 (N, 2) little-endian, cat uint16 (N,), val float32 (N,) in [0, 1].

    values are rescaled from their own [min, max] to [0, 1] (NaN -> 0).
    """
    xy = np.ascontiguousarray(xy_ndc, dtype="<f4")
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"xy must be (N, 2), got {xy.shape}")
    out: dict[str, bytes | None] = {"xy": xy.tobytes(), "cat": None, "val": None}
    if categories is not None:
        c = np.asarray(categories)
        if len(c) != len(xy):
            raise ValueError(f"{len(c)} categories for {len(xy)} points")
        out["cat"] = np.ascontiguousarray(np.clip(c, 0, 65535), dtype="<u2").tobytes()
    if values is not None:
        v = np.asarray(values, dtype=np.float64)
        if len(v) != len(xy):
            raise ValueError(f"{len(v)} values for {len(xy)} points")
        lo, hi = np.nanmin(v), np.nanmax(v)
        v = np.nan_to_num((v - lo) / (hi - lo) if hi > lo else np.zeros_like(v), nan=0.0)
        out["val"] = np.ascontiguousarray(np.clip(v, 0, 1), dtype="<f4").tobytes()
    return out


def pack_frames(frames: np.ndarray | None, n: int) -> bytes | None:
    """Frames (F, N, 2) of n points as float32 little-endian bytes (F * N * 8), None for None."""
    if frames is None:
        return None
    f = np.ascontiguousarray(frames, dtype="<f4")
    if f.ndim != 3 or f.shape[1:] != (n, 2):
        raise ValueError(f"frames must be (F, {n}, 2), got {f.shape}")
    return f.tobytes()


def atlas_png(images: np.ndarray, cols: int = 20) -> tuple[bytes, int, int]:
    """(PNG bytes, columns, thumbnail px) of images uint8 (M, C, H, W), C = 1 or 3, laid out row-major.

    Images are shown at their own size (28 x 28 MNIST: 400 of them make a 560 x 560 PNG of ~150 KB).
    """
    from PIL import Image

    a = np.asarray(images)
    if a.dtype != np.uint8 or a.ndim != 4 or a.shape[1] not in (1, 3):
        raise ValueError(f"images must be uint8 (M, 1|3, H, W), got {a.dtype} {a.shape}")
    m, c, h, w = a.shape
    t = max(h, w)
    cols = max(1, min(cols, m))
    rows = max(1, -(-m // cols))
    sheet = np.zeros((rows * t, cols * t, c), np.uint8)
    for k in range(m):
        r, q = divmod(k, cols)
        sheet[r * t:r * t + h, q * t:q * t + w] = a[k].transpose(1, 2, 0)
    img = Image.fromarray(sheet[..., 0] if c == 1 else sheet, "L" if c == 1 else "RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue(), cols, t


def thumbnails_to_send(value: dict, n: int) -> list[int]:
    """Positions whose images go to the browser in this run: the valid ones (0..n-1) of the browser's standing
    ask, value["need"], at most THUMB_MAX.

    Every run answers the ask that stands, so an answer lost on its way is given again by the next run (Streamlit
    drops a run's unsent messages when the next run starts: an ask "answered once" could be lost for good). The
    browser takes what it got out of `need`; with ack_thumbs it tells Python so at once, and later runs (a live
    map's fragment, every second) send no image again.
    """
    need = value.get("need") or []
    return [int(p) for p in need if 0 <= int(p) < n][:THUMB_MAX]


def decode_value(raw: bytes | bytearray | memoryview | dict | None) -> dict:
    """The component's value as a dict, "points" an int32 array (k,); {} for None.

    raw: the bytes the browser sent (see the module docstring), or a dict already decoded (returned as is).
    Raises ValueError on bytes that are not in that form.
    """
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    buf = bytes(raw)
    if len(buf) < 4:
        raise ValueError(f"component value too short: {len(buf)} bytes")
    head_len = int.from_bytes(buf[:4], "little")
    off = 4 + -(-head_len // 4) * 4
    if 4 + head_len > len(buf) or (len(buf) - off) % 4 or off > len(buf):
        raise ValueError(f"component value malformed: header {head_len} bytes in a value of {len(buf)}")
    import json
    value = json.loads(buf[4:4 + head_len].decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError("component value header is not a JSON object")
    value["points"] = np.frombuffer(buf, dtype="<i4", offset=off).astype(np.int32, copy=False)
    return value


def read_value(raw) -> dict:
    """decode_value of a session-state entry, {} for anything that is not a value of this component."""
    try:
        return decode_value(raw) if isinstance(raw, (bytes, bytearray, memoryview, dict)) else {}
    except ValueError:
        return {}


def webgl_scatter(xy_ndc: np.ndarray, *, data_key: str, colors: Sequence[str], categories: np.ndarray | None = None,
                  values: np.ndarray | None = None, legend: list[dict] | None = None, colorbar: dict | None = None,
                  atlas: tuple[bytes, int, int] | None = None, atlas_ids: Sequence[int] = (),
                  highlight: Sequence[int] = (), query: int = -1, query_xy: Sequence[float] | None = None,
                  names: Sequence[str] | None = None, decodes: bool = False, height: int = 620,
                  frames: np.ndarray | None = None, frame_titles: Sequence[str] | None = None,
                  hint: str | None = None, hover_images: bool = True, view_images: bool = True, fit: bool = False,
                  ack_thumbs: bool = False, png_name: str = "map", key: str) -> dict:
    """Draw the points; returns the component's value (see the module docstring), {} before the browser answers.

    xy_ndc (N, 2) in [-1, 1] (see normalise_xy); categories (N,) ints indexing `colors`, or values (N,)
    floats coloured along the ramp `colors`; legend [{"name", "color"}] or colorbar {"name", "lo", "hi",
    "colors"} drawn beside the canvas; highlight: positions ringed (neighbours), query: a position marked;
    query_xy: normalised [x, y] marked when the query is no point (a clicked spot); names: the name of each
    category (hover label); decodes: the browser sends clicks on empty places (the map has an inverse).
    frames (F, N, 2): frames of the same points normalised like xy_ndc (a live map's), sent once as float32 and
    played in the browser (Play/Pause, a frame slider, frame_titles[k] above the canvas while frame k shows);
    hint: the line beside the tools (default: the Latent map's); hover_images=False: no atlas will come (the
    hover box names the point's category and asks for no image); view_images=False: the points in view are never
    drawn as their thumbnails (images are asked for only on hover; the live map, whose points move every frame);
    fit=True: the browser scales each frame by one factor to fill the canvas, wider than tall (the live map;
    coordinates then are not xy_ndc's); ack_thumbs=True: the browser sends its ask, emptied, as soon as an atlas
    answered it (one more run: worth it where the page reruns by itself and would send the atlas again each time).
    png_name: the file name (without .png) of the PNG the map's "Map as PNG" button saves, made in the browser (the
    map as drawn: its view, colours, selection, thumbnails, rings and legend, at 4x the canvas's pixels).
    data_key must change whenever the points or their colours do (the browser redraws only then). Once the
    browser reports (value["drawn"]) that it holds data_key's points, reruns leave the bytes out; a browser
    frame made anew that lacks them says so and the next run sends them again.
    """
    import streamlit as st

    drawn = read_value(st.session_state.get(key)).get("drawn")
    if drawn == data_key:      # this browser has these points: leave the bytes out of the rerun (it asks if not)
        packed = {"xy": None, "cat": None, "val": None, "frames": None}
    else:
        packed = {**pack_points(xy_ndc, categories, values), "frames": pack_frames(frames, len(xy_ndc))}
    png, cols, t = atlas if atlas is not None else (None, 0, 0)
    value = _component(**packed, colors=list(colors), legend=legend, colorbar=colorbar, data_key=data_key,
                       atlas=png, atlas_cols=cols, thumb=t, atlas_ids=[int(i) for i in atlas_ids],
                       highlight=[int(i) for i in highlight], query=int(query),
                       query_xy=None if query_xy is None else [float(v) for v in query_xy][:2],
                       names=None if names is None else [str(v) for v in names], decodes=bool(decodes),
                       height=int(height), hint=hint, hover_images=bool(hover_images),
                       view_images=bool(view_images), fit=bool(fit), ack_thumbs=bool(ack_thumbs), png_name=str(png_name),
                       frame_titles=None if frame_titles is None else [str(t) for t in frame_titles],
                       key=key, default=None)
    return read_value(value)
