"""Test splits bundled with the repository, so that the app and the library work offline.

    assets/mnist/t10k-images-idx3-ubyte.gz   the official MNIST test images, byte for byte (10,000 x 28 x 28)
    assets/mnist/t10k-labels-idx1-ubyte.gz   their labels

``load_dataset("mnist", test_only=True)`` reads the test split from a data_dir, else the download
cache, else this bundled copy (checked against the official md5s): no network is ever needed to
explore or evaluate an MNIST model. Only TEST splits are bundled. A data set loaded with
``test_only=True`` has an empty train split, and ``require_training_split`` (called by the Trainer)
refuses it with a message that says how to get the training split: a download or a folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from vae.data.idx import DataError

__all__ = ["BUNDLED_TEST_SPLITS", "bundled_data_dir", "bundled_test_dir", "has_bundled_test_split",
           "require_training_split", "training_split_hint"]

BUNDLED_TEST_SPLITS = {"mnist": "mnist"}  # data set name -> its folder under bundled_data_dir()
_REPO_ASSETS = Path(__file__).resolve().parents[2] / "assets"


def bundled_data_dir() -> Path:
    """The folder holding the bundled test splits: $VAE_BUNDLED_DATA_DIR, else the repository's assets/."""
    explicit = os.environ.get("VAE_BUNDLED_DATA_DIR")
    return Path(explicit).expanduser() if explicit else _REPO_ASSETS


def bundled_test_dir(name: str) -> Path | None:
    """The folder of ``name``'s bundled test split (its two gzipped IDX files), or None where none is bundled."""
    sub = BUNDLED_TEST_SPLITS.get(name)
    return None if sub is None else bundled_data_dir() / sub


def has_bundled_test_split(name: str) -> bool:
    """True when ``name``'s test split is bundled and its folder exists."""
    folder = bundled_test_dir(name)
    return folder is not None and folder.is_dir()


def training_split_hint(name: str) -> str:
    """How to get ``name``'s training split, in one sentence (for errors and the UI)."""
    return (f"the training split of {name} is a download (load_dataset({name!r}) or the app's Download button, "
            f"checksum-verified, into the cache) or a folder holding its 4 IDX files (data_dir=FOLDER; "
            f"--data-dir FOLDER on the command line)")


def require_training_split(dataset) -> None:
    """Raise DataError when ``dataset`` (an ImageDataset) has no training images, e.g. a bundled test split."""
    if len(dataset.train) > 0:
        return
    if getattr(dataset, "test_only", False):
        raise DataError(f"{dataset.name}: only the test split is loaded (test_only), and a test split is never used "
                        f"as training data; {training_split_hint(dataset.name)}")
    raise DataError(f"data set {dataset.name!r} has no training images")
