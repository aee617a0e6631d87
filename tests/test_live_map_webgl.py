"""The WebGL live map's extents: a fixed one holds every frame's points (and can grow in steps); the app draws
each frame on its own extent (it fills the canvas); a replay's frames travel as one float32 (F, N, 2)."""

from __future__ import annotations

import numpy as np

from vae.analysis.live_map import LatentFrame
import pytest

from vae.ui.components.webgl_scatter import pack_frames
from vae.ui.training.live_map_webgl import frame_extent, frame_ndc, own_ndc


def _frame(xy, epoch=0.0):
    return LatentFrame(epoch=epoch, step=0, xy=np.asarray(xy, np.float32), explained=None, seconds=0.0)


def test_extent_holds_every_frame_and_is_one_for_all():
    rng = np.random.default_rng(0)
    frames = [_frame(rng.normal(size=(300, 2)) * s + s, s) for s in (0.2, 1.0, 3.0)]
    centre, half = frame_extent(frames)
    for f in frames:                       # one extent: the frames are normalised alike, (nearly) all inside
        ndc = frame_ndc(f, centre, half)
        assert ndc.dtype == np.float32 and ndc.shape == (300, 2)
        assert np.mean(np.abs(ndc) <= 1) > 0.98
    # the same point in two frames keeps its place when its coordinates do
    assert np.allclose(frame_ndc(frames[0], centre, half), frame_ndc(_frame(frames[0].xy), centre, half))


def test_snapped_extent_changes_only_now_and_then_while_frames_come_in():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(300, 2))
    frames, extents = [], []
    for k in range(40):                    # the points spread a little more with every frame
        frames.append(_frame(base * (1 + 0.02 * k), k))
        c, h = frame_extent(frames, snap=True)
        extents.append((tuple(np.round(c, 9)), round(h, 9)))
        ndc = frame_ndc(frames[-1], c, h)
        assert np.mean(np.abs(ndc) <= 1) > 0.98
    assert len(set(extents)) <= 6          # 40 frames, a few extents (unsnapped: one per frame)
    assert len({frame_extent(frames[:k + 1])[1] for k in range(40)}) > 30


def test_each_frame_fills_the_canvas_even_an_early_bunched_one():
    """Issue 21: an early frame (points bunched near the origin) was drawn as a dot in an extent that held the
    later, wider frames; on its own extent it spans the canvas like the late one."""
    rng = np.random.default_rng(2)
    early = _frame(rng.normal(size=(300, 2)) * 0.01 + 0.05)
    late = _frame(rng.normal(size=(300, 2)) * 3.0)
    for f in (early, late):
        ndc = own_ndc(f)
        assert ndc.dtype == np.float32 and np.mean(np.abs(ndc) <= 1) > 0.98
        assert np.abs(ndc).max(0).max() > 0.8          # the wider axis reaches (nearly) the edge
    c, h = frame_extent([early, late])              # the old, shared extent: the early frame a dot
    assert np.abs(frame_ndc(early, c, h)).max() < 0.05


def test_frames_pack_as_one_float32_array():
    frames = np.arange(3 * 4 * 2, dtype=np.float64).reshape(3, 4, 2)
    raw = pack_frames(frames, 4)
    assert len(raw) == 3 * 4 * 2 * 4
    assert np.array_equal(np.frombuffer(raw, "<f4").reshape(3, 4, 2), frames.astype(np.float32))
    assert pack_frames(None, 4) is None
    with pytest.raises(ValueError, match=r"\(F, 5, 2\)"):
        pack_frames(frames, 5)
