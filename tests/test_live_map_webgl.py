"""The WebGL live map's fixed extent: it holds every frame's points, and while training it grows in steps."""

from __future__ import annotations

import numpy as np

from vae.analysis.live_map import LatentFrame
from vae.ui.training.live_map_webgl import frame_extent, frame_ndc


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
