"""Tests for vae.data, vae.data.idx and vae.data.images: IDX files, built-in data sets, user image folders, binarisation."""

from __future__ import annotations

import gzip
import io
import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vae.data import (
    BINARIZE_MODES, DATASET_NAMES, SHAPE_NAMES, DataError, ImageDataset, Split, binarize_images, load_dataset,
    load_image_folder, make_shapes, read_idx,
)
from vae.data.idx import write_idx



# ----------------------------------------------------------------------------- IDX files


def test_read_idx_real_mnist(mnist_dir):  # mnist_dir: ../shared/datasets/mnist, skipped only where absent
    train_images = read_idx(mnist_dir / "train-images-idx3-ubyte.gz")
    train_labels = read_idx(mnist_dir / "train-labels-idx1-ubyte.gz")
    test_images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    test_labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert train_images.shape == (60000, 28, 28) and train_images.dtype == np.uint8
    assert test_images.shape == (10000, 28, 28) and test_labels.shape == (10000,)
    assert set(np.unique(train_labels)) == set(range(10)) == set(np.unique(test_labels))
    assert train_images.mean() / 255 == pytest.approx(0.1307, abs=5e-4)


def test_load_mnist_from_local_folder(mnist_dir):
    ds = load_dataset("mnist", data_dir=mnist_dir, download=False)
    assert ds.name == "mnist" and ds.image_shape == (1, 28, 28)
    assert (len(ds.train), len(ds.test)) == (60000, 10000)
    assert ds.train.images.dtype == torch.uint8 and ds.train.labels.dtype == torch.int64
    assert ds.class_names == [str(d) for d in range(10)] and ds.train.factors is None
    assert ds.train.images.float().mean().item() / 255 == pytest.approx(0.1307, abs=5e-4)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    b = read_idx(write_idx(a, tmp_path / f"a-idx3{suffix}"))
    assert b.dtype == a.dtype and b.dtype.isnative and b.flags.writeable
    np.testing.assert_array_equal(a, b)


def test_idx_truncated_gzip(tmp_path):
    data = gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 5000) + bytes(5000))
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"labels-idx1-ubyte\.gz: corrupt or truncated gzip"):
        read_idx(path)


@pytest.mark.parametrize("magic", [b"\x01\x00\x08\x01", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00", b"PK\x03\x04"])
def test_idx_wrong_magic(tmp_path, magic):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(magic + struct.pack(">I", 3) + bytes(3))
    with pytest.raises(DataError, match=r"bad-idx1-ubyte: not an IDX file \(magic number"):
        read_idx(path)


@pytest.mark.parametrize("extra", [-1, +1])
def test_idx_dims_disagree_with_data_length(tmp_path, extra):
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">III", 4, 28, 28) + bytes(4 * 28 * 28 + extra)))
    with pytest.raises(DataError, match=r"images-idx3-ubyte\.gz: header says 4 x 28 x 28 values of uint8 \(3136 bytes"):
        read_idx(path)


def test_idx_missing_and_tiny_files(tmp_path):
    with pytest.raises(DataError, match="nope: no such file"):
        read_idx(tmp_path / "nope")
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="tiny: not an IDX file"):
        read_idx(tmp_path / "tiny")


def test_mnist_folder_counts_disagree(fake_mnist):
    folder, _, _ = fake_mnist
    write_idx(np.zeros(49, dtype=np.uint8), folder / "train-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz holds 50 images but .*train-labels-idx1-ubyte\.gz holds 49"):
        load_dataset("mnist", data_dir=folder)


def test_mnist_folder_bad_labels_and_missing_file(fake_mnist):
    folder, _, _ = fake_mnist
    write_idx(np.full(20, 10, dtype=np.uint8), folder / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: label 10 is outside 0\.\.9"):
        load_dataset("fashion-mnist", data_dir=folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"lacks t10k-labels-idx1-ubyte\.gz"):
        load_dataset("mnist", data_dir=folder)


def test_mnist_folder_raw_files_and_resize(fake_mnist):
    folder, _, arrays = fake_mnist
    for gz in list(folder.iterdir()):  # gunzip, and use the ".idx" spelling some copies have
        gz.with_name(gz.name.removesuffix(".gz").replace("-idx", ".idx")).write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    ds = load_dataset("fashion-mnist", data_dir=folder)
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    np.testing.assert_array_equal(ds.train.images[:, 0].numpy(), arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(ds.test.labels.numpy(), arrays["t10k-labels-idx1-ubyte.gz"])
    small = load_dataset("mnist", data_dir=folder, image_size=14)
    assert small.image_shape == (1, 14, 14) and small.train.images.dtype == torch.uint8


# ----------------------------------------------------------------------------- built-in data sets


def test_shapes_deterministic_with_valid_factors():
    ds = load_dataset("shapes", n_train=300, n_test=50, seed=1)
    again = load_dataset("shapes", n_train=300, n_test=50, seed=1)
    other = load_dataset("shapes", n_train=300, n_test=50, seed=2)
    assert ds.name == "shapes" and ds.class_names == SHAPE_NAMES == ["square", "ellipse", "heart"]
    assert ds.factor_names == ["shape", "scale", "rotation", "x", "y"]
    assert ds.image_shape == (1, 32, 32) and (len(ds.train), len(ds.test)) == (300, 50)
    assert torch.equal(ds.train.images, again.train.images) and torch.equal(ds.test.factors, again.test.factors)
    assert not torch.equal(ds.train.images, other.train.images)
    assert not torch.equal(ds.train.images[:50], ds.test.images)  # train and test are different draws
    for split in (ds.train, ds.test):
        f = split.factors
        assert split.images.dtype == torch.uint8 and f.dtype == torch.float32 and f.shape == (len(split), 5)
        assert split.labels.dtype == torch.int64 and torch.equal(split.labels, f[:, 0].long())
        scales = torch.tensor([0.5, 0.6, 0.7, 0.8, 0.9, 1.0], dtype=torch.float32)
        assert torch.isin(f[:, 1], scales).all() and len(f[:, 1].unique()) == 6
        period = torch.tensor([math.pi / 2, math.pi, 2 * math.pi])[split.labels]
        assert (f[:, 2] >= 0).all() and (f[:, 2] < period).all()
        assert ((f[:, 3:] >= 0) & (f[:, 3:] <= 1)).all()
        # a white shape on black, antialiased edges, nothing touching the border
        assert split.images.amax(dim=(1, 2, 3)).min() == 255 and split.images[:, :, [0, -1]].max() == 0
        assert ((split.images > 0) & (split.images < 255)).any()
    # a bigger shape covers more pixels; the ellipse at the same scale covers less than the square
    area = (ds.train.images.float() / 255).sum(dim=(1, 2, 3))
    sq = ds.train.labels == 0
    assert area[sq & (ds.train.factors[:, 1] == 1)].mean() > 3 * area[sq & (ds.train.factors[:, 1] == 0.5)].mean()


def test_shapes_position_and_size_options():
    images, factors = make_shapes(40, 64, seed=3)
    assert images.shape == (40, 1, 64, 64) and factors.shape == (40, 5) and not images.flags.writeable
    ys, xs = np.nonzero(images[0, 0] > 127)
    cx, cy = xs.mean() / 63, ys.mean() / 63  # the centre moves from 0.25 to 0.75 of the side as x, y go 0 -> 1
    assert cx == pytest.approx(0.25 + 0.5 * factors[0, 3], abs=0.06) and cy == pytest.approx(0.25 + 0.5 * factors[0, 4], abs=0.06)
    ds = load_dataset("shapes", image_size=64, n_train=8, n_test=2)
    assert ds.image_shape == (1, 64, 64)
    ds.train.images[0] = 7  # the tensors are copies: the in-process cache is not touched
    assert make_shapes(8, 64, 0)[0][0].max() == 255
    with pytest.raises(DataError, match="n_train must be an integer >= 1"):
        load_dataset("shapes", n_train=0)


def test_digits():
    ds = load_dataset("digits", seed=0)
    assert ds.image_shape == (1, 8, 8) and ds.train.images.dtype == torch.uint8
    assert (len(ds.train), len(ds.test)) == (1497, 300) and ds.class_names == [str(d) for d in range(10)]
    assert ds.train.images.max() == 255 and ds.train.images.min() == 0
    assert torch.bincount(ds.test.labels).tolist() == pytest.approx([30] * 10, abs=1)  # stratified
    flat = lambda s: {bytes(x) for x in s.images.reshape(len(s), -1).numpy()}  # noqa: E731
    again, other = load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    assert torch.equal(ds.test.images, again.test.images) and torch.equal(ds.train.labels, again.train.labels)
    assert not torch.equal(ds.test.images, other.test.images)
    # disjoint: no test image appears in train (digits has a few duplicate images, so compare indices via content)
    train_set = flat(ds.train)
    assert sum(bytes(x) in train_set for x in ds.test.images.reshape(300, -1).numpy()) <= 3
    assert load_dataset("digits", image_size=16).image_shape == (1, 16, 16)


def test_load_dataset_bad_names_and_options():
    assert DATASET_NAMES == ("digits", "shapes", "mnist", "fashion-mnist")
    with pytest.raises(DataError, match="unknown data set 'cifar'"):
        load_dataset("cifar")
    with pytest.raises(DataError, match=r"load_dataset\('digits'\) got unknown option\(s\) n_train"):
        load_dataset("digits", n_train=5)
    with pytest.raises(DataError, match="image_size must be an integer"):
        load_dataset("shapes", image_size=2, n_train=2, n_test=2)


def test_split_and_dataset_validation():
    images, labels = torch.zeros(3, 1, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64)
    assert len(Split(images, labels)) == 3
    with pytest.raises(DataError, match="images must be uint8"):
        Split(images.float(), labels)
    with pytest.raises(DataError, match=r"labels must be int64 \(3,\)"):
        Split(images, labels[:2])
    with pytest.raises(DataError, match="factors must be float32"):
        Split(images, labels, torch.zeros(2, 5))
    with pytest.raises(DataError, match="labels fall outside 0..0"):
        ImageDataset("x", Split(images, labels + 1), Split(images, labels), class_names=["a"])
    with pytest.raises(DataError, match="0 factor columns but 1 factor names"):
        ImageDataset("x", Split(images, labels), Split(images, labels), class_names=["a"], factor_names=["f"])


# ----------------------------------------------------------------------------- user image folders


def _png(color, size=(20, 12), mode="L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG")
    return buf.getvalue()


def _zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height grey pixels (a decompression bomb, as far as a reader can tell)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b"")


def test_image_folder_labels_resize_and_split(tmp_path):
    root = tmp_path / "pets"
    for cls, color in (("dogs", 200), ("cats", 40)):
        (root / cls / "sub").mkdir(parents=True)
        for i in range(5):
            (root / cls / f"{i}.png").write_bytes(_png(color, size=(30 + i, 17)))
        (root / cls / "sub" / "deep.jpg").write_bytes(_jpeg_bytes(color))  # deeper levels keep the first-level label
    (root / ".DS_Store").write_bytes(b"junk")  # hidden files are ignored
    ds = load_image_folder(root, image_size=16, test_fraction=0.34, seed=0)
    assert ds.name == "folder:pets" and ds.class_names == ["cats", "dogs"] and ds.factor_names == []
    assert ds.image_shape == (1, 16, 16) and ds.train.images.dtype == torch.uint8
    assert (len(ds.train), len(ds.test)) == (8, 4)
    assert torch.bincount(ds.test.labels).tolist() == [2, 2]
    for split in (ds.train, ds.test):  # label 0 = cats = dark, label 1 = dogs = light
        means = split.images.float().mean(dim=(1, 2, 3))
        assert ((means < 100) == (split.labels == 0)).all()
    again = load_image_folder(root, image_size=16, test_fraction=0.34, seed=0)
    assert torch.equal(ds.test.images, again.test.images) and torch.equal(ds.train.labels, again.train.labels)


def _jpeg_bytes(color, size=(40, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (color, color, color)).save(buf, format="JPEG")
    return buf.getvalue()


def test_image_zip_rgb_single_wrapping_folder_and_transparency(tmp_path):
    rgba = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(rgba, format="PNG")  # fully transparent -> white
    path = _zip(tmp_path / "colours.zip", {
        "colours/red/a.png": _png((255, 0, 0), mode="RGB"),
        "colours/red/b.png": _png((250, 10, 0), mode="RGB"),
        "colours/blue/a.png": _png((0, 0, 255), mode="RGB"),
        "colours/blue/clear.png": rgba.getvalue(),
        "__MACOSX/colours/._a.png": b"resource fork",
    })
    ds = load_image_folder(path, image_size=8, channels=3, test_fraction=0.0)
    assert ds.name == "folder:colours" and ds.class_names == ["blue", "red"]
    assert ds.image_shape == (3, 8, 8) and len(ds.train) == 4 and len(ds.test) == 0
    imgs, labels = ds.train.images, ds.train.labels
    red = imgs[labels == 1]
    assert (red[:, 0] > 240).all() and (red[:, 2] < 10).all()
    assert (imgs[labels == 0][0, 2] > 240).all() and (imgs[labels == 0][1] == 255).all()
    grey = load_image_folder(path, image_size=8, channels=1)
    assert grey.image_shape == (1, 8, 8)


def test_image_folder_single_class(tmp_path):
    root = tmp_path / "scans"
    root.mkdir()
    for i in range(3):
        (root / f"{i}.png").write_bytes(_png(i * 50))
    ds = load_image_folder(root, test_fraction=0.34)
    assert ds.class_names == ["scans"] and (len(ds.train), len(ds.test)) == (2, 1)
    assert ds.image_shape == (1, 28, 28)


@pytest.mark.parametrize("entry", ["../evil.png", "ok/../../evil.png", "/etc/evil.png", "C:/evil.png", "..\\evil.png"])
def test_zip_slip_refused(tmp_path, entry):
    path = _zip(tmp_path / "slip.zip", {"a/ok.png": _png(1), entry: _png(2)})
    with pytest.raises(DataError, match=r"slip\.zip: zip entry .*evil\.png.* escapes the archive"):
        load_image_folder(path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["slip.zip"]  # nothing written anywhere


def test_non_image_file_named(tmp_path):
    path = _zip(tmp_path / "mixed.zip", {"a/1.png": _png(1), "a/notes.txt": b"hello, not an image"})
    with pytest.raises(DataError, match=r"mixed\.zip: a/notes\.txt: not an image"):
        load_image_folder(path)
    root = tmp_path / "dir"
    (root / "a").mkdir(parents=True)
    noise = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)).save(noise, format="PNG")
    (root / "a" / "broken.png").write_bytes(noise.getvalue()[: len(noise.getvalue()) // 2])
    with pytest.raises(DataError, match=r"a/broken\.png: corrupt image"):
        load_image_folder(root)


def test_loose_file_next_to_class_folders(tmp_path):
    path = _zip(tmp_path / "loose.zip", {"a/1.png": _png(1), "b/1.png": _png(2), "stray.png": _png(3)})
    with pytest.raises(DataError, match=r"stray\.png sits next to the class subfolders"):
        load_image_folder(path)


@pytest.mark.parametrize("width,height", [(100_000, 100_000), (7_000, 7_000)])  # Pillow's own limit; ours (40 Mpx)
def test_image_decompression_bomb_refused(tmp_path, width, height):
    path = _zip(tmp_path / "bomb.zip", {"x/bomb.png": _png_header(width, height)})
    with pytest.raises(DataError, match=r"x/bomb\.png: .*decompression bomb"):
        load_image_folder(path)


def test_zip_ratio_bomb_refused(tmp_path):
    path = _zip(tmp_path / "zeros.zip", {"a.png": bytes(4 << 20)}, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(DataError, match=r"zeros\.zip: zip entry 'a\.png' unpacks to 4194304 bytes .*decompression bomb"):
        load_image_folder(path)


def test_zip_total_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr("vae.data.images.MAX_TOTAL_BYTES", 1000)
    path = _zip(tmp_path / "big.zip", {"a/1.png": bytes(600), "a/2.png": bytes(600)})
    with pytest.raises(DataError, match=r"big\.zip: unpacks to more than .*decompression bomb"):
        load_image_folder(path)


def test_empty_and_invalid_inputs(tmp_path):
    with pytest.raises(DataError, match=r"empty\.zip: no images found"):
        load_image_folder(_zip(tmp_path / "empty.zip", {}))
    with pytest.raises(DataError, match=r"only-junk\.zip: no images found"):
        load_image_folder(_zip(tmp_path / "only-junk.zip", {".hidden.png": _png(1), "d/": b""}))
    (tmp_path / "fake.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"fake\.zip: not a folder or a valid zip file"):
        load_image_folder(tmp_path / "fake.zip")
    with pytest.raises(DataError, match="no such folder or zip file"):
        load_image_folder(tmp_path / "absent")
    with pytest.raises(DataError, match="channels must be 1"):
        load_image_folder(tmp_path, channels=2)
    with pytest.raises(DataError, match="test_fraction"):
        load_image_folder(tmp_path, test_fraction=1.0)


# ----------------------------------------------------------------------------- binarisation


def test_binarize_images():
    assert BINARIZE_MODES == ("none", "static", "dynamic")
    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    b = binarize_images(x, torch.Generator().manual_seed(1))
    assert b.shape == x.shape and b.dtype == x.dtype and b.device == x.device
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    assert b.mean().item() == pytest.approx(x.mean().item(), abs=0.01)
    assert torch.equal(b, binarize_images(x, torch.Generator().manual_seed(1)))  # static: reproducible
    assert not torch.equal(b, binarize_images(x, torch.Generator().manual_seed(2)))  # dynamic: a fresh draw
    assert binarize_images(torch.zeros(10)).sum() == 0 and binarize_images(torch.ones(10)).sum() == 10
    with pytest.raises(DataError, match="needs float pixels"):
        binarize_images(torch.zeros(3, dtype=torch.uint8))


def test_the_names_module_and_the_idx_sources_agree():
    """vae.dataset_names (no torch) lists the IDX data sets that vae.data.IDX_SOURCES can load."""
    from vae.data import DATASET_NAMES, IDX_SOURCES
    from vae.dataset_names import DATASET_SUMMARIES, IDX_DATASET_NAMES, is_idx_dataset

    assert set(IDX_SOURCES) == set(IDX_DATASET_NAMES) and set(IDX_DATASET_NAMES) <= set(DATASET_NAMES)
    assert set(DATASET_SUMMARIES) == set(DATASET_NAMES)
    assert [n for n in DATASET_NAMES if is_idx_dataset(n)] == ["mnist", "fashion-mnist"]
