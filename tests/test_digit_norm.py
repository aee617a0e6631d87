"""Issue 27: a drawn digit is normalised as MNIST's digits were made (LeCun et al.: the ink's bounding box
scaled, aspect kept, to fit 20 x 20, then centred by its centre of mass in 28 x 28)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw


def _seven(side: int = 224, box=(10, 8, 150, 190), width: int = 18) -> np.ndarray:
    """A large 7 drawn off-centre (towards the top left) on a black side x side canvas: uint8 (side, side)."""
    img = Image.new("L", (side, side), 0)
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    d.line([(x0, y0), (x1, y0), (x0 + (x1 - x0) // 3, y1)], fill=255, width=width)
    return np.asarray(img)


def _com(a: np.ndarray) -> tuple[float, float]:
    a = a.astype(np.float64)
    rows, cols = np.indices(a.shape)
    return float((rows * a).sum() / a.sum()), float((cols * a).sum() / a.sum())


def _bbox(a: np.ndarray, level: int = 1) -> tuple[int, int]:
    rows, cols = np.nonzero(a >= level)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_an_off_centre_large_seven_ends_centred_in_a_20_pixel_box():
    from vae.data.digit_norm import normalise_like_mnist

    seven = _seven()
    r, c = _com(seven)
    assert np.hypot(r - 111.5, c - 111.5) > 40                     # drawn far from the centre
    out = normalise_like_mnist(seven, 28)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    h, w = _bbox(out, 32)
    assert max(h, w) in (19, 20, 21) and min(h, w) < max(h, w)     # the longer side fills 20 pixels, aspect kept
    r, c = _com(out)
    assert abs(r - 13.5) <= 0.75 and abs(c - 13.5) <= 0.75         # centred by mass
    assert out.max() >= 200                                        # the strokes stay bright


def test_small_and_channel_first_and_empty_drawings():
    from vae.data.digit_norm import normalise_like_mnist

    tiny = _seven(box=(150, 150, 180, 200), width=6)
    out = normalise_like_mnist(tiny[None], 28)                      # (1, H, W) in, (1, 28, 28) out
    assert out.shape == (1, 28, 28)
    assert max(_bbox(out[0], 32)) >= 19                            # scaled up, like MNIST's small digits
    assert normalise_like_mnist(np.zeros((50, 50), np.uint8), 28).max() == 0
    small = normalise_like_mnist(_seven(), 8)                      # any side: the box is 20/28 of it
    assert small.shape == (8, 8) and max(_bbox(small, 32)) <= 7
    with pytest.raises(ValueError):
        normalise_like_mnist(np.zeros((2, 4, 4, 4), np.uint8), 28)
