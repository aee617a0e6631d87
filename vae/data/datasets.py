"""Data sets for the explorer: uint8 image tensors with labels and, where known, ground-truth factors.

    load_dataset("digits")          scikit-learn's bundled 8x8 digits, offline      (1, 8, 8),   10 classes
    load_dataset("shapes")          procedural dSprites-like shapes with factors    (1, 32, 32),  3 classes
    load_dataset("mnist")           MNIST, from data_dir or the download cache      (1, 28, 28), 10 classes
    load_dataset("mnist", test_only=True)   its test split alone, offline: data_dir, cache or the bundled copy
    load_dataset("fashion-mnist")   Fashion-MNIST, likewise                         (1, 28, 28), 10 classes
    load_image_folder(path)         a user's folder or .zip of images, labels from subfolders

Images stay uint8 (N, C, H, W) in 0..255 until the trainer moves them to the device and scales them;
``binarize_images`` draws the {0, 1} images of the "static" and "dynamic" binarisation modes.
Every bad input raises ``DataError`` (a ValueError) naming the file or option and the problem.
"""

from __future__ import annotations

import functools

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vae.config import BINARIZE_MODES
from vae.dataset_names import DATASET_NAMES, DATASET_SUMMARIES, IDX_DATASET_NAMES, is_idx_dataset
from vae.data.bundled import bundled_test_dir, has_bundled_test_split, require_training_split, training_split_hint
from vae.data.download import default_cache_dir, download_file, fetch_files, file_md5
from vae.data.idx import DataError, read_idx
from vae.data.images import read_image_folder
from vae.data.shapes import SHAPE_FACTOR_NAMES, SHAPE_NAMES, SHAPE_SCALES, _check_count, _check_size, generate_shapes, make_shapes

__all__ = [
    "DataError", "Split", "ImageDataset", "DATASET_NAMES", "load_dataset", "load_image_folder",
    "binarize_images", "BINARIZE_MODES", "read_idx", "download_file", "default_cache_dir",
    "make_shapes", "SHAPE_NAMES", "SHAPE_FACTOR_NAMES", "SHAPE_SCALES", "IdxSource", "IDX_SOURCES",
    "has_bundled_test_split", "require_training_split", "DATASET_SUMMARIES", "IDX_DATASET_NAMES", "is_idx_dataset",
]



# ----------------------------------------------------------------------------- containers


@dataclass
class Split:
    """One split of a data set; validated on construction."""

    images: torch.Tensor  # uint8 (N, C, H, W), 0..255
    labels: torch.Tensor  # int64 (N,)
    factors: torch.Tensor | None = None  # float32 (N, F) ground-truth factor values, or None

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise DataError(f"Split.images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        n = self.images.shape[0]
        if self.labels.dtype != torch.int64 or tuple(self.labels.shape) != (n,):
            raise DataError(f"Split.labels must be int64 ({n},), got {self.labels.dtype} {tuple(self.labels.shape)}")
        if self.factors is not None and (
            self.factors.dtype != torch.float32 or self.factors.ndim != 2 or self.factors.shape[0] != n
        ):
            raise DataError(f"Split.factors must be float32 ({n}, F), got {self.factors.dtype} {tuple(self.factors.shape)}")

    def __len__(self) -> int:
        return self.images.shape[0]


@dataclass
class ImageDataset:
    """A named data set: train and test splits of the same image shape, and the names of labels and factors."""

    name: str  # "digits", "shapes", "mnist", "fashion-mnist", or "folder:<name>"
    train: Split
    test: Split
    class_names: list[str]  # index = label
    factor_names: list[str] = field(default_factory=list)  # (F,) names of the factor columns
    test_only: bool = False  # loaded with test_only=True: the train split is empty and may not be trained on

    def __post_init__(self):
        if self.train.images.shape[1:] != self.test.images.shape[1:]:
            raise DataError(
                f"{self.name}: train images {tuple(self.train.images.shape[1:])} and test images "
                f"{tuple(self.test.images.shape[1:])} differ in shape"
            )
        for split_name, split in (("train", self.train), ("test", self.test)):
            if len(split) and not 0 <= int(split.labels.min()) <= int(split.labels.max()) < len(self.class_names):
                raise DataError(f"{self.name}: {split_name} labels fall outside 0..{len(self.class_names) - 1}")
            width = 0 if split.factors is None else split.factors.shape[1]
            if width != len(self.factor_names):
                raise DataError(f"{self.name}: {split_name} has {width} factor columns but {len(self.factor_names)} factor names")

    @functools.cached_property
    def all(self) -> Split:
        """The train split followed by the test split, as one Split (N_train + N_test images); built once.

        Index i < len(train) is train image i, else test image i - len(train) (the CLI's `--split all`).
        """
        parts = [s for s in (self.train, self.test) if len(s)]
        if len(parts) == 1:
            return parts[0]
        factors = None if self.train.factors is None else torch.cat([s.factors for s in parts])
        return Split(torch.cat([s.images for s in parts]), torch.cat([s.labels for s in parts]), factors)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W)."""
        c, h, w = self.train.images.shape[1:]
        return (c, h, w)


# ----------------------------------------------------------------------------- entry points


def load_dataset(
    name: str,
    *,
    data_dir: str | Path | None = None,
    download: bool = True,
    cache_dir: str | Path | None = None,
    image_size: int | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    test_only: bool = False,
    **kwargs,
) -> ImageDataset:
    """Load one of DATASET_NAMES.

    digits          kwargs n_test=300. 1797 images 8x8, values 0..16 scaled to 0..255; a stratified
                    train/test split drawn from ``seed`` (1497 / 300 by default).
    shapes          kwargs n_train=20000, n_test=2000. Generated from ``seed`` (see make_shapes);
                    ``image_size`` defaults to 32.
    mnist,          kwargs mirrors=[base URL, ...], checksums={file name: md5}. Read from ``data_dir``
    fashion-mnist   (a folder with the 4 IDX files, gzipped or raw, used as given without a checksum
                    check) or else from ``cache_dir``/<name>/ (default default_cache_dir()), downloading
                    missing files when ``download`` (checksum-verified; ``progress(bytes_done,
                    bytes_total)`` per file). The split is the official 60000 / 10000.

    ``test_only`` (mnist, fashion-mnist) reads the test split alone and leaves the train split empty
    (``ds.test_only`` is True; the Trainer refuses such a data set). Its files come from ``data_dir``
    when given, else the cache, else the copy bundled in assets/ (mnist: see vae.data.bundled; no
    network), else a download of the two test files when ``download``.

    ``image_size`` other than the native size resizes digits / MNIST images (bilinear, antialiased).
    ``data_dir``, ``download``, ``cache_dir`` and ``test_only`` only concern mnist and fashion-mnist;
    ``progress`` also reports shapes as they are drawn (images done, n_train + n_test).
    """
    if test_only and name not in IDX_SOURCES:
        raise DataError(f"test_only applies to {', '.join(IDX_SOURCES)}, not {name!r}")
    if name == "digits":
        opts = _options(name, kwargs, n_test=300)
        ds = _load_digits(seed=seed, **opts)
    elif name == "shapes":
        opts = _options(name, kwargs, n_train=20_000, n_test=2_000)
        ds = _load_shapes(image_size=32 if image_size is None else image_size, seed=seed, progress=progress, **opts)
        image_size = None  # generated at its size
    elif name in IDX_SOURCES:
        opts = _options(name, kwargs, mirrors=None, checksums=None)
        ds = _load_idx_dataset(IDX_SOURCES[name], data_dir=data_dir, download=download, cache_dir=cache_dir,
                               progress=progress, test_only=test_only, **opts)
    else:
        raise DataError(f"unknown data set {name!r}; expected one of {', '.join(DATASET_NAMES)} (or use load_image_folder)")
    if image_size is not None and ds.image_shape[1:] != (image_size, image_size):
        _check_size(image_size)
        ds.train.images, ds.test.images = resize_images(ds.train.images, image_size), resize_images(ds.test.images, image_size)
    return ds


def load_image_folder(
    path: str | Path, *, image_size: int = 28, channels: int = 1, test_fraction: float = 0.2, seed: int = 0
) -> ImageDataset:
    """A folder or .zip of PNG / JPEG images as a data set named "folder:<folder or zip name>".

    Images are uint8 (N, channels, image_size, image_size): grey (channels=1) or RGB (3), centre-cropped
    to a square and resized with Lanczos (see vae.data.images.read_image_folder for labels, limits and errors).
    ``test_fraction`` of each class, drawn from ``seed``, goes to the test split (a class of one image
    stays in train).
    """
    if not 0.0 <= test_fraction < 1.0:
        raise DataError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    found = read_image_folder(path, image_size=image_size, channels=channels)
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(len(found.labels), dtype=bool)
    for c in range(len(found.class_names)):
        members = np.flatnonzero(found.labels == c)
        n_test = min(round(len(members) * test_fraction), len(members) - 1)
        test_mask[rng.choice(members, size=n_test, replace=False)] = True
    path = Path(path)
    return ImageDataset(
        name=f"folder:{path.stem if path.is_file() else path.name}",
        train=_split(found.images[~test_mask], found.labels[~test_mask]),
        test=_split(found.images[test_mask], found.labels[test_mask]),
        class_names=found.class_names,
    )


def binarize_images(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A Bernoulli draw of each pixel: float ``x`` in [0, 1], any shape -> same dtype, shape and device, values {0, 1}.

    P(out = 1) = x (values outside [0, 1] act as clamped). With a seeded ``generator`` (on x's device)
    the draw is reproducible: "static" binarisation draws once, "dynamic" draws afresh every epoch.
    """
    if not x.is_floating_point():
        raise DataError(f"binarize_images needs float pixels in [0, 1], got {x.dtype} (divide uint8 images by 255 first)")
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (u < x).to(x.dtype)


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, size, size), bilinear with antialiasing (for downscaling)."""
    out = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8)


# ----------------------------------------------------------------------------- helpers


def _options(name: str, given: Mapping, **defaults) -> dict:
    if unknown := sorted(set(given) - set(defaults)):
        raise DataError(
            f"load_dataset({name!r}) got unknown option(s) {', '.join(unknown)}; it takes {', '.join(defaults) or 'none'}"
        )
    return {**defaults, **given}


def _split(images: np.ndarray, labels: np.ndarray, factors: np.ndarray | None = None) -> Split:
    """numpy -> Split, copying so that the tensors own their (writable) memory."""
    return Split(
        images=torch.from_numpy(np.array(images, dtype=np.uint8)),
        labels=torch.from_numpy(np.array(labels, dtype=np.int64)),
        factors=None if factors is None else torch.from_numpy(np.array(factors, dtype=np.float32)),
    )


# ----------------------------------------------------------------------------- digits


def _load_digits(*, seed: int, n_test: int) -> ImageDataset:
    from .digits import load_digits_arrays, stratified_split  # no scikit-learn import: it costs ~1.6 s

    images, target = load_digits_arrays()                      # (1797, 8, 8) float 0..16, (1797,) int
    n = len(target)
    _check_count("n_test", n_test, minimum=10)
    if n_test > n - 10:
        raise DataError(f"n_test must be at most {n - 10} for digits ({n} images), got {n_test}")
    images = np.round(images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # (1797, 1, 8, 8)
    train_idx, test_idx = stratified_split(target, n_test, seed)
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    return ImageDataset(
        name="digits",
        train=_split(images[train_idx], target[train_idx]),
        test=_split(images[test_idx], target[test_idx]),
        class_names=[str(d) for d in range(10)],
    )


# ----------------------------------------------------------------------------- shapes


def _load_shapes(*, image_size: int, seed: int, n_train: int, n_test: int,
                 progress: Callable[[int, int], None] | None = None) -> ImageDataset:
    _check_count("n_train", n_train)
    _check_count("n_test", n_test)
    # train and test come from independent streams of the same seed; generated uncached and used
    # without a copy (1,000,000 images are 1 GB); progress(images drawn, n_train + n_test)
    splits = []
    for n, stream, done in ((n_train, 0, 0), (n_test, 1, n_train)):
        step = None if progress is None else (lambda i, _n, done=done: progress(done + i, n_train + n_test))
        images, factors = generate_shapes(n, image_size, seed * 2 + stream, progress=step)
        labels = torch.from_numpy(factors[:, 0].astype(np.int64))
        splits.append(Split(torch.from_numpy(images), labels, torch.from_numpy(factors)))
    return ImageDataset("shapes", splits[0], splits[1], class_names=list(SHAPE_NAMES), factor_names=list(SHAPE_FACTOR_NAMES))


# ----------------------------------------------------------------------------- MNIST and Fashion-MNIST


@dataclass(frozen=True)
class IdxSource:
    """Where an IDX data set comes from: its 4 files, their official md5s, mirrors and class names."""

    name: str
    files: tuple[str, str, str, str]  # train images, train labels, test images, test labels (gzipped names)
    md5: Mapping[str, str]  # file name -> official md5
    mirrors: tuple[str, ...]  # base URLs, tried in order
    mirror_env: str  # environment variable that replaces the mirrors (URLs separated by spaces or commas)
    class_names: tuple[str, ...]


_IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

IDX_SOURCES = {
    "mnist": IdxSource(
        name="mnist",
        files=_IDX_FILES,
        md5=dict(zip(_IDX_FILES, (
            "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c",
        ))),
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        mirror_env="VAE_MNIST_MIRROR",
        class_names=tuple(str(d) for d in range(10)),
    ),
    "fashion-mnist": IdxSource(
        name="fashion-mnist",
        files=_IDX_FILES,
        md5=dict(zip(_IDX_FILES, (
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310",
        ))),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        mirror_env="VAE_FASHION_MNIST_MIRROR",
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
}


def _find_local_idx(folder: Path, gz_name: str) -> Path | None:
    """The file in ``folder`` for ``gz_name``: gzipped or raw, "-idx" or ".idx" spelling."""
    stem = gz_name.removesuffix(".gz")
    for candidate in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _load_idx_dataset(
    source: IdxSource,
    *,
    data_dir: str | Path | None,
    download: bool,
    cache_dir: str | Path | None,
    progress: Callable[[int, int], None] | None,
    mirrors: Sequence[str] | str | None,
    checksums: Mapping[str, str | None] | None,
    test_only: bool = False,
) -> ImageDataset:
    files = source.files[2:] if test_only else source.files
    if data_dir is not None:
        folder = Path(data_dir)
        if not folder.is_dir():
            raise DataError(f"{source.name}: data_dir {folder} is not a folder")
        paths = [_find_local_idx(folder, f) for f in files]
        if missing := [f for f, p in zip(files, paths) if p is None]:
            raise DataError(f"{source.name}: {folder} lacks {', '.join(missing)} (gzipped or raw)")
    else:
        if mirrors is None:
            mirrors = os.environ.get(source.mirror_env, "").replace(",", " ").split() or source.mirrors
        elif isinstance(mirrors, str):
            mirrors = [mirrors]
        table = {**source.md5, **(checksums or {})}
        folder = Path(cache_dir if cache_dir is not None else default_cache_dir()) / source.name
        wanted = {f: table[f] for f in files}
        try:
            if test_only:  # the cache, then the bundled copy, and only then the network
                paths = _cached_or_bundled(source, wanted, folder)
                if paths is None:
                    paths = list(fetch_files(wanted, list(mirrors), folder, download=download, progress=progress).values())
            else:
                paths = list(fetch_files(wanted, list(mirrors), folder, download=download, progress=progress).values())
        except DataError as e:
            hint = f"offline? {training_split_hint(source.name)}" if not test_only else \
                "offline? pass data_dir= a local folder with the 2 test IDX files"
            if has_bundled_test_split(source.name) and not test_only:
                hint += f"; the test split alone is bundled: load_dataset({source.name!r}, test_only=True)"
            raise DataError(f"{source.name}: {e}\n({hint})") from e
    arrays = [read_idx(p) for p in paths]
    test = _idx_split(source, arrays[-2], arrays[-1], paths[-2], paths[-1])
    if test_only:
        c, h, w = test.images.shape[1:]
        train = Split(images=torch.empty((0, c, h, w), dtype=torch.uint8), labels=torch.empty(0, dtype=torch.int64))
    else:
        train = _idx_split(source, arrays[0], arrays[1], paths[0], paths[1])
    return ImageDataset(source.name, train, test, class_names=list(source.class_names), test_only=test_only)


def _cached_or_bundled(source: IdxSource, wanted: Mapping[str, str | None], cache_folder: Path) -> list[Path] | None:
    """The test files from the cache (md5-checked), else from the bundled copy (md5-checked), else None."""
    try:
        return list(fetch_files(wanted, [], cache_folder, download=False).values())
    except DataError:
        pass
    bundled = bundled_test_dir(source.name)
    if bundled is None or not bundled.is_dir():
        return None
    paths = []
    for name, md5 in wanted.items():
        path = bundled / name
        if not path.is_file():
            raise DataError(f"{source.name}: the bundled test split in {bundled} lacks {name}")
        if md5 is not None and file_md5(path) != md5.lower():
            raise DataError(f"{source.name}: the bundled {path} does not have the official md5 {md5} (corrupt copy)")
        paths.append(path)
    return paths


def _idx_split(source: IdxSource, images: np.ndarray, labels: np.ndarray, images_path: Path, labels_path: Path) -> Split:
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataError(f"{images_path}: expected uint8 images (N, H, W), got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{labels_path}: expected uint8 labels (N,), got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
    if len(labels) and labels.max() >= len(source.class_names):
        raise DataError(f"{labels_path}: label {labels.max()} is outside 0..{len(source.class_names) - 1}")
    return Split(images=torch.from_numpy(images[:, None]), labels=torch.from_numpy(labels.astype(np.int64)))
