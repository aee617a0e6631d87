"""The bundled assets: MNIST's test split offline, every bundled checkpoint, and the figures in assets/README.md.

The guard fixture `offline_no_shared` makes any network connection and any read under ../shared
(the development copy of MNIST beside the repository) fail, and points the download cache at an
empty folder: what passes under it works on a user's machine with no network.
"""

from __future__ import annotations

import builtins
import io
import json
import re
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from vae.data import IDX_SOURCES, DataError, load_dataset
from vae.data.download import file_md5

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "assets"
SHARED = REPO.parent / "shared"
README = ASSETS / "README.md"


def bundled_checkpoints() -> list[str]:
    return sorted(p.name for p in ASSETS.iterdir() if (p / "config.json").is_file())


@pytest.fixture
def offline_no_shared(tmp_path, monkeypatch):
    """No network, no reads under ../shared, an empty download cache, and a cwd outside the repository."""
    real_open = io.open
    shared = SHARED.resolve()

    def guarded_open(file, *args, **kwargs):
        if isinstance(file, (str, Path)) and Path(file).resolve().is_relative_to(shared):
            raise AssertionError(f"read {file}: the product must not read ../shared")
        return real_open(file, *args, **kwargs)

    def no_connect(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(socket.socket, "connect", no_connect)
    monkeypatch.setattr(socket, "create_connection", no_connect)
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    monkeypatch.setenv("VAE_CACHE_DIR", str(cache))
    monkeypatch.delenv("VAE_BUNDLED_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)   # a recorded relative data_dir (../shared/...) then points nowhere
    return cache


# ---------------------------------------------------------------------------------------- the data


def test_bundled_mnist_files_are_the_official_ones():
    md5 = IDX_SOURCES["mnist"].md5
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert file_md5(ASSETS / "mnist" / name) == md5[name]


def test_mnist_test_split_found_offline_without_shared(offline_no_shared):
    ds = load_dataset("mnist", test_only=True)
    assert ds.test_only and len(ds.train) == 0
    assert tuple(ds.test.images.shape) == (10_000, 1, 28, 28) and ds.test.images.dtype == torch.uint8
    assert ds.test.labels[:5].tolist() == [7, 2, 1, 0, 4]          # the official first test labels
    assert np.bincount(ds.test.labels.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert not any(offline_no_shared.iterdir())                     # nothing was downloaded into the cache


def test_test_only_prefers_a_complete_cache(tmp_path, monkeypatch, fake_mnist):
    folder, md5, _ = fake_mnist
    ds = load_dataset("mnist", test_only=True, data_dir=folder)
    assert len(ds.test) == 20 and len(ds.train) == 0
    cache = tmp_path / "cache"
    (cache / "mnist").mkdir(parents=True)
    for name in md5:
        (cache / "mnist" / name).write_bytes((folder / name).read_bytes())
    ds = load_dataset("mnist", test_only=True, cache_dir=cache, checksums=md5)
    assert len(ds.test) == 20   # the cached test files, not the bundled ones


def test_without_a_training_split_load_dataset_says_how_to_get_it(offline_no_shared):
    with pytest.raises(DataError, match=r"(?s)download.*folder.*test_only=True"):
        load_dataset("mnist", download=False)


def test_test_only_is_refused_for_generated_data():
    with pytest.raises(DataError, match="test_only"):
        load_dataset("digits", test_only=True)


def test_training_on_the_bundled_test_split_raises_a_clear_error(offline_no_shared):
    from vae.config import ModelConfig, TrainConfig
    from vae.train import Trainer, make_model

    ds = load_dataset("mnist", test_only=True)
    model = make_model(ModelConfig(arch="mlp", image_size=28, latent_dim=2, hidden=(16,)))
    with pytest.raises(DataError, match=r"(?s)never used as training data.*download.*folder"):
        Trainer(model, ds, TrainConfig(dataset="mnist", epochs=1))


def test_cli_training_mnist_offline_says_how_to_get_the_training_split(offline_no_shared, monkeypatch, capsys):
    from vae.cli import main

    monkeypatch.setenv("VAE_MNIST_MIRROR", (offline_no_shared / "no-mirror").as_uri())   # file://, no socket
    assert main(["train", "--dataset", "mnist", "--epochs", "1", "--out", "run", "--quiet"]) != 0
    err = capsys.readouterr().err
    assert "training split" in err and "--data-dir" in err and "download" in err
    assert not Path("run").exists()


# ---------------------------------------------------------------------------------------- the models


@pytest.mark.parametrize("name", bundled_checkpoints())
def test_bundled_checkpoint_loads_and_opens_on_its_data_offline(name, offline_no_shared):
    import vae
    from vae.cli import _dataset_for

    model = vae.load_model(ASSETS / name)
    dataset, _ = _dataset_for(model, None, "test")
    assert tuple(dataset.image_shape) == tuple(model.config.image_shape)
    x = dataset.test.images[:4].float() / 255
    with torch.no_grad():
        mu, _ = model.encode(x)
        assert torch.isfinite(model.decode(mu)).all()


def readme_figures() -> dict[str, dict[str, tuple[float, float]]]:
    """assets/README.md's table: folder -> {"elbo": (mean, se), "iwae": (mean, se)} (IWAE K=100)."""
    lines = [ln for ln in README.read_text().splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    col_elbo = next(i for i, c in enumerate(header) if c.startswith("test ELBO"))
    col_iwae = next(i for i, c in enumerate(header) if c.startswith("IWAE K=100"))
    figures = {}
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        m = re.fullmatch(r"`([\w-]+)`", cells[0])
        if not m:
            break
        pair = lambda s: tuple(float(v) for v in re.fullmatch(r"(-?[\d.]+) ± ([\d.]+)", s).groups())
        figures[m.group(1)] = {"elbo": pair(cells[col_elbo]), "iwae": pair(cells[col_iwae])}
    return figures


def test_readme_lists_every_bundled_checkpoint():
    assert sorted(readme_figures()) == bundled_checkpoints()


def _evaluate(name: str, capsys, *extra: str) -> dict:
    from vae.cli import main

    assert main(["evaluate", str(ASSETS / name), "--json", "--device", "cpu", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", bundled_checkpoints())
def test_readme_test_elbo_is_reproduced_by_evaluate(name, offline_no_shared, capsys):
    """The test ELBO (one seeded sample per image, seed 0): the same draws, so only float rounding differs."""
    mean, se = readme_figures()[name]["elbo"]
    result = _evaluate(name, capsys, "--iwae-samples", "0")
    assert result["elbo"] == pytest.approx(mean, abs=0.02)
    assert result["elbo_se"] == pytest.approx(se, abs=0.02)


@pytest.mark.parametrize("name", bundled_checkpoints())
def test_readme_iwae_is_reproduced_within_noise(name, offline_no_shared, capsys):
    """IWAE K=100. On MNIST (10,000 test images) only the first 500 are scored, for speed: their mean
    must lie within 4 standard errors (of a 500-image mean) of the README's whole-split figure."""
    import vae
    from vae.analysis.likelihood import evaluate_model
    from vae.cli import _dataset_for

    mean, _ = readme_figures()[name]["iwae"]
    model = vae.load_model(ASSETS / name, device="cpu")
    dataset, train = _dataset_for(model, None, "test")
    images = dataset.test.images
    binarize = "static" if train.binarize != "none" else "none"
    if len(images) > 2000:
        result = evaluate_model(model, images[:500], iwae_samples=100, binarize=binarize, seed=0)
        # the subset's binarisation draw differs from the whole split's; the sampling noise covers it
        assert abs(result["iwae"] - mean) < 4 * result["iwae_se"]
    else:
        result = evaluate_model(model, images, iwae_samples=100, binarize=binarize, seed=0)
        assert result["iwae"] == pytest.approx(mean, abs=0.02)


def test_assets_stay_under_30_mb():
    """Everything under assets/ (checkpoints, MNIST's test split, sweep summaries) ships with every clone:
    30 MB in all at most (issue 25); the README's figure for it is kept in step."""
    total = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert total < 30_000_000, f"assets/ holds {total / 1e6:.1f} MB"
    models = sum(p.stat().st_size for name in bundled_checkpoints() for p in (ASSETS / name).rglob("*") if p.is_file())
    m = re.search(r"`assets/` holds the checkpoints the app opens with \(about ([\d.]+) MB together",
                  (REPO / "README.md").read_text())
    assert m and float(m.group(1)) == pytest.approx(models / 1e6, abs=0.5), (m and m.group(1), models / 1e6)
