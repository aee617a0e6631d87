"""A drawn digit made like MNIST's: the ink's bounding box scaled to 20 x 20, centred by mass in 28 x 28.

    img = normalise_like_mnist(drawing, 28)     # (H, W) or (1, H, W) uint8 -> (28, 28) or (1, 28, 28) uint8

MNIST's digits (LeCun et al., from NIST's binary images) were size-normalised to fit a 20 x 20 box,
keeping their aspect ratio and anti-aliased, then placed in a 28 x 28 field so that their centre of
mass sits at its centre. A digit drawn large in a corner of a canvas and just resized is far from
that, and an MNIST model encodes it as something else (issue 27: a drawn 7 became a 3 on mnist-2d).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["MNIST_BOX", "normalise_like_mnist"]

MNIST_BOX = 20 / 28          # the box the ink is scaled into, as a fraction of the image side


def normalise_like_mnist(image, size: int = 28, ink_level: int = 32) -> np.ndarray:
    """Light ink on black, as MNIST: uint8 (H, W) or (1, H, W) of any size -> uint8 (size, size) or (1, size, size).

    The bounding box of the pixels at or above `ink_level` (0..255) is cut out, scaled (area average when
    shrinking, bilinear when growing) so that its longer side is round(size * 20 / 28) pixels, and pasted
    into a black size x size image with its centre of mass at the centre ((size - 1) / 2, to the nearest
    pixel). An image without ink comes back black.
    """
    a = np.asarray(image)
    channel = a.ndim == 3
    if channel and a.shape[0] != 1 or a.ndim not in (2, 3):
        raise ValueError(f"expected a grey image (H, W) or (1, H, W), got shape {a.shape}")
    a = a[0] if channel else a
    if a.dtype != np.uint8:
        a = np.clip(np.round(np.asarray(a, np.float64) * (255.0 if a.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
    out = np.zeros((size, size), np.uint8)
    rows, cols = np.nonzero(a >= ink_level)
    if len(rows):
        crop = a[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        box = max(1, int(round(size * MNIST_BOX)))
        h, w = crop.shape
        k = box / max(h, w)
        nh, nw = max(1, int(round(h * k))), max(1, int(round(w * k)))
        resample = Image.Resampling.BOX if k < 1 else Image.Resampling.BILINEAR
        patch = np.asarray(Image.fromarray(crop).resize((nw, nh), resample), dtype=np.uint8)
        mass = patch.astype(np.float64)
        if mass.sum() > 0:
            r, c = np.indices(patch.shape)
            com = np.array([(r * mass).sum(), (c * mass).sum()]) / mass.sum()
            top, left = np.round((size - 1) / 2 - com).astype(int)
            top, left = int(np.clip(top, 0, size - nh)), int(np.clip(left, 0, size - nw))
            out[top:top + nh, left:left + nw] = patch
    return out[None] if channel else out
