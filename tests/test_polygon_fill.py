"""vae.data.polygon_fill fills exactly the pixels Pillow's ImageDraw.polygon fills (the shapes renderer's rule)."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vae.data.polygon_fill import block_coverage, fill_polygons


def _pillow(vx, vy, side):
    out = []
    for xs, ys in zip(vx, vy):
        canvas = Image.new("L", (side, side), 0)
        ImageDraw.Draw(canvas).polygon(np.stack([xs, ys], axis=1).ravel().tolist(), fill=255)
        out.append(np.asarray(canvas) > 0)
    return np.array(out)


@pytest.mark.parametrize("k, lo, hi", [(3, 0, 32), (4, 0, 32), (8, 0, 32), (4, 10, 14), (6, 5, 9),
                                       (12, 0, 6), (30, 8, 24), (96, 10, 22)])
def test_random_polygons_fill_as_pillow_fills_them(k, lo, hi):
    # self-intersecting, repeated vertices, horizontal runs and many corners on one row: every rule of
    # Pillow's filler (horizontal edges, doubled crossings, "discontiguous corners") comes up
    rng = np.random.default_rng(k * 100 + lo)
    vx, vy = rng.integers(lo, hi, (400, k)), rng.integers(lo, hi, (400, k))
    assert (fill_polygons(vx, vy, 32) == _pillow(vx, vy, 32)).all()


def test_vertices_off_the_canvas_are_refused():
    with pytest.raises(ValueError, match="on the canvas"):
        fill_polygons(np.array([[0, 5, 32]]), np.array([[0, 5, 3]]), 32)


def test_block_coverage_counts_what_image_reduce_averages():
    rng = np.random.default_rng(7)
    vx, vy = rng.integers(0, 64, (300, 9)), rng.integers(0, 64, (300, 9))
    mask = _pillow(vx, vy, 64)
    want = mask.reshape(300, 16, 4, 16, 4).sum(axis=(2, 4))
    assert (block_coverage(vx, vy, 64, 4) == want).all()
    reduced = np.array([np.asarray(Image.fromarray(m.astype(np.uint8) * 255).reduce(4)) for m in mask[:20]])
    assert (((255 * want[:20] + 8) >> 4) == reduced).all()
