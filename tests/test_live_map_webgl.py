"""The WebGL live map's extents: a fixed one holds every frame's points (and can grow in steps); the app draws
each frame on its own extent (it fills the canvas); a replay's frames travel as one float32 (F, N, 2)."""

from __future__ import annotations

import numpy as np
import torch

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


# ---- hover images (issue 21): which images are sent for which positions ------------------------------------

def _dataset(n_test: int, seed: int, n_train: int = 20):
    """A small ImageDataset whose every image is unique (its pixels encode split and position)."""
    from vae.data.datasets import ImageDataset, Split

    def split(n, base):
        images = torch.zeros(n, 1, 4, 4, dtype=torch.uint8)
        images[:, 0, 0, 0] = torch.arange(n) % 256
        images[:, 0, 0, 1] = torch.arange(n) // 256
        images[:, 0, 1, 0] = base
        labels = torch.from_numpy(np.random.default_rng(seed + base).integers(0, 3, n))
        return Split(images, labels)

    return ImageDataset("toy", split(n_train, 1), split(n_test, 2), ["a", "b", "c"])


def test_hovered_positions_get_the_runs_own_images_of_its_subset():
    """Position p of the live map is test image data.index[p] of the run's data set: the atlas sent for the
    browser's `need` holds those images, tile k for need[k] (and what the run encodes, live.images)."""
    from PIL import Image
    import io

    from vae.analysis.live_map import LiveLatentMap, subset_images, why_no_images
    from vae.ui.components.webgl_scatter import atlas_png, thumbnails_to_send

    ds = _dataset(500, seed=0)
    live = LiveLatentMap.from_dataset(ds, n_max=120, seed=3)
    data = live.data()
    assert data.split == "test" and len(data.index) == 120 and not np.array_equal(data.index, np.arange(120))
    assert why_no_images(data, ds) is None
    value = {"need": [7, 0, 119, 120, -1, 55], "need_seq": 1, "instance": "abc"}
    ids = thumbnails_to_send(value, len(data.index))
    assert ids == [7, 0, 119, 55]                         # positions outside the subset are left out
    images = subset_images(data, ds, ids)
    assert images.dtype == np.uint8 and images.shape == (4, 1, 4, 4)
    np.testing.assert_array_equal(images, ds.test.images[torch.from_numpy(data.index[ids])].numpy())
    np.testing.assert_array_equal(images, live.images[ids].numpy())       # the images the run encodes there
    png, cols, t = atlas_png(images)
    sheet = np.asarray(Image.open(io.BytesIO(png)))
    for k, p in enumerate(ids):
        r, q = divmod(k, cols)
        np.testing.assert_array_equal(sheet[r * t:r * t + 4, q * t:q * t + 4], images[k, 0])
    with pytest.raises(IndexError):
        subset_images(data, ds, [120])


def test_every_run_answers_the_ask_that_stands_until_the_browser_empties_it():
    """An answer Streamlit drops (a run's unsent messages go when the next run starts) must come again: the ask
    is answered on every run while it stands; the browser empties it when the images come (ack_thumbs)."""
    from vae.ui.components.webgl_scatter import THUMB_MAX, thumbnails_to_send

    ask = {"need": [3, 4], "need_seq": 2, "instance": "x1"}
    assert thumbnails_to_send(ask, 10) == [3, 4]
    assert thumbnails_to_send(ask, 10) == [3, 4]                          # the next run: the same ask, again
    assert thumbnails_to_send({**ask, "need": [], "need_seq": 2}, 10) == []    # emptied by the browser: nothing
    assert thumbnails_to_send({}, 10) == []                                 # no value yet
    assert thumbnails_to_send({"need": [9, 10, -1]}, 10) == [9]             # positions outside the map left out
    many = thumbnails_to_send({"need": list(range(1000)), "need_seq": 1, "instance": "z"}, 1000)
    assert many == list(range(THUMB_MAX))


def test_no_images_from_a_data_set_that_is_not_the_runs():
    """The sidebar's data set may differ from the run's: images come from the run's own, and a data set whose
    split lacks the run's positions or labels gives none, with the reason the hint shows."""
    from vae.analysis.live_map import LiveLatentMap, why_no_images
    from vae.ui.training.live_map_webgl import live_hint, live_key

    ds = _dataset(500, seed=0)
    data = LiveLatentMap.from_dataset(ds, n_max=120, seed=3).data()
    assert "not hold" in why_no_images(data, None)
    assert "smaller" in why_no_images(data, _dataset(100, seed=0))
    assert "labels differ" in why_no_images(data, _dataset(500, seed=1))   # same size, other labels
    assert "image" in live_hint(None) and "labels differ" in live_hint(why_no_images(data, _dataset(500, seed=1)))
    # no test split: the subset is of the training images, and their images come from there
    no_test = _dataset(0, seed=0, n_train=50)
    train_data = LiveLatentMap.from_dataset(no_test, n_max=30).data()
    assert train_data.split == "train" and why_no_images(train_data, no_test) is None
    # ... and the titles say so, in WebGL and in Plotly (a data set with no test split said "test images")
    import dataclasses

    from vae.ui.training.live_map import live_map_figure
    from vae.ui.training.live_map_webgl import frame_title

    framed = dataclasses.replace(train_data, frames=(_frame(np.zeros((30, 2)), 1.0), _frame(np.ones((30, 2)), 2.0)),
                                 projection="latent")
    assert frame_title(framed, framed.frames[-1]) == "latent means of 30 train images, epoch 2"
    assert live_map_figure(framed, "label").layout.title.text == "latent means of 30 train images, epoch 2"
    assert frame_title(data, _frame(np.zeros((120, 2)))).startswith("latent means of 120 test images")
    # another run's subset (another data set, seed or size): another component key, so no thumbnails carry over
    assert live_key(data) == live_key(LiveLatentMap.from_dataset(ds, n_max=120, seed=3).data())
    assert live_key(data) != live_key(LiveLatentMap.from_dataset(ds, n_max=120, seed=4).data())
    assert live_key(data) != live_key(LiveLatentMap.from_dataset(_dataset(500, seed=1), n_max=120, seed=3).data())
    assert live_key(data).endswith("_webgl")
