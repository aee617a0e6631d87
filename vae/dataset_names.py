"""The data sets the library knows by name, without importing torch: what a help text, a selectbox or a
check "is this read from IDX files?" needs (vae.data loads them).

A new built-in data set: its loader in vae/data/datasets.py, its name and one-line summary here; an IDX
data set (four IDX files, like MNIST) adds its checksums and mirrors to vae.data.datasets.IDX_SOURCES and
its name to IDX_DATASET_NAMES. Pages and the CLI read these and need no change.
"""

from __future__ import annotations

DATASET_NAMES = ("digits", "shapes", "mnist", "fashion-mnist")
IDX_DATASET_NAMES = ("mnist", "fashion-mnist")       # the keys of vae.data.datasets.IDX_SOURCES
DATASET_SUMMARIES = {            # one line each for help texts (CLI, pages)
    "digits": "digits (8x8, bundled)",
    "shapes": "shapes (32x32, generated, with factors)",
    "mnist": "mnist (28x28, four IDX files: a folder, the download cache or the bundled test split)",
    "fashion-mnist": "fashion-mnist (28x28, four IDX files)",
}

DATASET_IMAGE_SHAPES = {         # (C, H, W) as loaded, before any image_size option
    "digits": (1, 8, 8),
    "shapes": (1, 32, 32),
    "mnist": (1, 28, 28),
    "fashion-mnist": (1, 28, 28),
}


def is_idx_dataset(name: str) -> bool:
    """True for the data sets read from four IDX files (a folder, the download cache, or a server's copy)."""
    return name in IDX_DATASET_NAMES
