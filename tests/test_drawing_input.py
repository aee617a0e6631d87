"""A drawing becomes the model's input as MNIST's digits were made, on every page that takes one (issue 27)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from vae.ui.posterior.image_input import image_from_drawing


def _corner_seven(side: int = 224) -> bytes:
    """A 7 drawn large in the top-left corner of the canvas (light ink on black), as the canvas's PNG."""
    a = np.zeros((side, side), np.uint8)
    a[10:24, 10:140] = 255                             # the bar
    for r in range(24, 160):                           # the stem, down to the left
        c = int(140 - (r - 24) * 0.6)
        a[r, c - 7:c + 7] = 255
    buf = io.BytesIO()
    Image.fromarray(a, "L").save(buf, format="PNG")
    return buf.getvalue()


def test_a_drawn_digit_for_an_mnist_model_is_centred_by_mass_and_fits_20x20():
    img, mnist_like = image_from_drawing(_corner_seven(), (1, 28, 28), "mnist")
    assert mnist_like and img.shape == (1, 28, 28) and img.dtype == np.uint8
    a = img[0].astype(np.float64)
    rows, cols = np.indices(a.shape)
    com = ((rows * a).sum() / a.sum(), (cols * a).sum() / a.sum())
    assert abs(com[0] - 13.5) <= 1.0 and abs(com[1] - 13.5) <= 1.0, com
    r, c = np.nonzero(a >= 32)
    assert max(np.ptp(r), np.ptp(c)) + 1 in (19, 20, 21)


def test_another_dataset_takes_the_drawing_as_drawn():
    img, mnist_like = image_from_drawing(_corner_seven(), (1, 8, 8), "digits")
    assert not mnist_like and img.shape == (1, 8, 8)
    a = img[0].astype(np.float64)
    rows, _ = np.indices(a.shape)
    assert (rows * a).sum() / a.sum() < 3.5               # still in the top half, where it was drawn
