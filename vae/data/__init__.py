"""Data sets and their readers: digits, shapes (with factors), MNIST / Fashion-MNIST (IDX reader,
checksummed downloads), a user's folder or zip of images; binarisation.

`from vae.data import load_dataset, ImageDataset, DataError` is the usual entry point; the modules:

    datasets.py   load_dataset, load_image_folder, Split, ImageDataset, binarize_images, IDX_SOURCES
    bundled.py    MNIST's test split bundled in assets/mnist (load_dataset("mnist", test_only=True), offline)
    shapes.py     make_shapes: procedural dSprites-like shapes with their factors
    idx.py        the IDX reader and writer, DataError
    download.py   checksummed downloads into a cache that never holds a partial file
    images.py     decoding a user's images (folders, zips, uploads) with bounds on size
"""

from vae.data.datasets import *  # noqa: F401,F403
from vae.data.datasets import __all__  # noqa: F401
