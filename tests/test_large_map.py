"""Encodings and projections cached on disk, t-SNE/UMAP fitted on a sample, and `python -m vae project`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vae import load_model
from vae.analysis.large_map import cached_encode, cached_project, project_all
from vae.analysis.projection import knn_label_accuracy

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    """The bundled digits-2d model and the digits images it was trained on (uint8 (N, 1, 8, 8)), labels."""
    from vae.cli.evaluate_command import dataset_for

    model = load_model(ROOT / "assets" / "digits-2d", device="cpu")
    dataset, _ = dataset_for(model, None, "train")
    images = torch.cat([dataset.train.images, dataset.test.images])
    labels = torch.cat([dataset.train.labels, dataset.test.labels]).numpy()
    return model, images, labels


def test_encode_is_cached_and_matches_a_direct_encode(digits, tmp_path):
    from vae.analysis.latent import encode_dataset

    model, images, _ = digits
    seen = []
    mu, logvar, hit = cached_encode(model, images, batch_size=300, cache_dir=tmp_path,
                                    progress=lambda done, total: seen.append((done, total)))
    assert not hit
    n = len(images)
    assert seen[-1] == (n, n) and [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) == -(-n // 300)
    ref_mu, ref_lv = encode_dataset(model, images)
    np.testing.assert_allclose(mu, ref_mu, atol=1e-5)
    np.testing.assert_allclose(logvar, ref_lv, atol=1e-5)
    assert len(list(tmp_path.glob("enc-*.npz"))) == 1
    mu2, lv2, hit2 = cached_encode(model, images, cache_dir=tmp_path)
    assert hit2 and np.array_equal(mu2, mu) and np.array_equal(lv2, logvar)
    # other data, or the same model with changed weights, is a miss
    _, _, hit3 = cached_encode(model, images[:100], cache_dir=tmp_path)
    assert not hit3
    with torch.no_grad():
        next(model.parameters()).add_(0.01)
    try:
        mu4, _, hit4 = cached_encode(model, images, cache_dir=tmp_path)
        assert not hit4 and not np.array_equal(mu4, mu)
    finally:
        with torch.no_grad():
            next(model.parameters()).sub_(0.01)


def test_a_damaged_cache_file_is_recomputed(digits, tmp_path):
    model, images, _ = digits
    mu, _, _ = cached_encode(model, images[:200], cache_dir=tmp_path)
    (path,) = tmp_path.glob("enc-*.npz")
    path.write_bytes(b"not an npz")
    mu2, _, hit = cached_encode(model, images[:200], cache_dir=tmp_path)
    assert not hit and np.array_equal(mu, mu2)


def test_tsne_fitted_on_a_sample_places_the_rest_next_to_their_twins(tmp_path):
    """Rows 300.. are copies of rows 0..299 (plus tiny noise): fitted on 300, each copy lands by its original."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 8, size=(5, 6))
    labels = rng.integers(0, 5, 300)
    base = (centres[labels] + rng.normal(0, 1, (300, 6))).astype(np.float32)
    x = np.concatenate([base, base + rng.normal(0, 1e-3, base.shape).astype(np.float32)])
    steps = []
    emb, info = project_all(x, "tsne", fit_points=300, seed=1, progress=lambda i, t, m: steps.append((i, t, m)),
                            n_iter=250)
    assert emb.shape == (600, 2) and emb.dtype == np.float32 and np.isfinite(emb).all()
    assert info["fitted"] == 300 and info["placed"] == 300 and info["n"] == 600
    assert steps[-1][0] == steps[-1][1] and any("placing" in m for _, _, m in steps)
    # which rows were fitted is seeded; each placed copy lands among the fitted points nearest its twin, within
    # the nearest ~7% of the 300 (openTSNE's transform keeps a new point a little apart from its neighbours:
    # measured median rank 12 of 300, twins ~2 units apart on a map of median radius ~20)
    fit = np.sort(np.random.default_rng(1).choice(600, 300, replace=False))
    placed = np.setdiff1d(np.arange(600), fit)
    twin = np.where(placed < 300, placed + 300, placed - 300)
    keep = np.isin(twin, fit)
    d = np.linalg.norm(emb[placed[keep]][:, None, :] - emb[fit][None, :, :], axis=2)   # (placed, fitted)
    twin_col = np.searchsorted(fit, twin[keep])
    rank = (d < d[np.arange(len(twin_col)), twin_col][:, None]).sum(axis=1)           # fitted points nearer than the twin
    assert keep.sum() > 100 and np.median(rank) <= 20, np.median(rank)
    assert knn_label_accuracy(emb, np.concatenate([labels, labels])) > 0.95


def test_a_tsne_fitted_on_a_sample_shows_the_sample_as_it_computes(tmp_path):
    x = np.random.default_rng(0).normal(size=(500, 5)).astype(np.float32)
    seen = []
    emb, info = cached_project(x, "tsne", fit_points=200, seed=2, cache_dir=tmp_path, early_exaggeration_iter=20,
                               n_iter=40, snapshot=lambda it, total, xy, rows: seen.append((it, total, xy, rows)))
    fit = np.sort(np.random.default_rng(2).choice(500, 200, replace=False))
    assert len(seen) > 5 and [s[0] for s in seen][0] == 0 and all(s[1] == 60 for s in seen)
    assert all(s[2].shape == (200, 2) and np.array_equal(s[3], fit) for s in seen)
    # the snapshot is not part of the cache key: the same map is read back, and a hit shows nothing
    again = []
    emb2, info2 = cached_project(x, "tsne", fit_points=200, seed=2, cache_dir=tmp_path, early_exaggeration_iter=20,
                                 n_iter=40, snapshot=lambda *a: again.append(a))
    assert info2["cached"] and np.array_equal(emb2, emb) and again == []


def test_projection_cache_hits_only_for_the_same_points_and_settings(tmp_path):
    x = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    a, ia = cached_project(x, "pca", cache_dir=tmp_path)
    b, ib = cached_project(x, "pca", cache_dir=tmp_path)
    assert not ia["cached"] and ib["cached"] and np.array_equal(a, b)
    _, ic = cached_project(x, "pca", seed=3, cache_dir=tmp_path)
    _, idd = cached_project(x[:150], "pca", cache_dir=tmp_path)
    assert not ic["cached"] and not idd["cached"]
    with pytest.raises(ValueError, match="unknown projection method"):
        project_all(x, "mds")


def test_umap_on_a_sample_places_every_row(tmp_path):
    pytest.importorskip("umap")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 400)
    x = (rng.normal(0, 10, (3, 5))[labels] + rng.normal(0, 1, (400, 5))).astype(np.float32)
    emb, info = project_all(x, "umap", fit_points=250, n_epochs=100)
    assert emb.shape == (400, 2) and info["placed"] == 150 and np.isfinite(emb).all()
    assert knn_label_accuracy(emb, labels) > 0.95


def test_umap_chunks_of_a_big_placement_get_the_epochs_of_the_whole(monkeypatch):
    """umap-learn's transform runs 100 epochs for up to 10,000 rows and 30 above; placed in chunks of
    10,000, every chunk of a big placement took 100 (3.3x the work of one call over all the rest)."""
    umap_ = pytest.importorskip("umap.umap_")
    import vae.analysis.large_map as large_map

    epochs = []
    real = umap_.optimize_layout_euclidean

    def spy(*args, **kwargs):
        epochs.append(int(args[4]))                  # (head, tail, head rows, tail rows, n_epochs, ...)
        return real(*args, **kwargs)

    monkeypatch.setattr(umap_, "optimize_layout_euclidean", spy)
    monkeypatch.setattr(large_map, "PLACE_CHUNK", 5_100)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (10_600, 5)).astype(np.float32)
    emb, info = project_all(x, "umap", fit_points=400)
    assert info["placed"] == 10_200 and np.isfinite(emb).all()
    # two chunks of 5,100, as one call over 10,200 would (the fit runs its epochs itself: vae.analysis.umap_projection)
    assert epochs == [30, 30]
    from vae.analysis.projection import place_points
    from vae.analysis.umap_projection import project_umap
    proj = project_umap(x[:400], seed=0)
    epochs.clear()
    place_points(proj, x[500])                       # one new point (an upload) keeps umap-learn's 100
    assert epochs == [100] and proj.fitted.n_epochs is None


# ---- the command line ------------------------------------------------------------------------------

def _project(capsys, *args):
    from tests.test_cli import vae_main
    return vae_main(capsys, "project", *args)


def test_cli_project_all_writes_train_then_test(digits, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    model, images, labels = digits
    out = tmp_path / "map.npz"
    r = _project(capsys, ROOT / "assets" / "digits-2d", "--split", "all", "--method", "tsne", "--fit-points", "500",
                 "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "placed" in r.stdout and "computed" in r.stdout
    with np.load(out) as f:
        assert f["embedding"].shape == (len(images), 2) and f["embedding"].dtype == np.float32
        assert np.array_equal(f["labels"], labels)
        assert np.isfinite(f["embedding"]).all()
        assert knn_label_accuracy(f["embedding"], f["labels"]) > 0.8
    r2 = _project(capsys, ROOT / "assets" / "digits-2d", "--split", "all", "--method", "tsne", "--fit-points", "500",
                  "--out", out, "--quiet")
    assert r2.returncode == 0 and "encodings cached, map cached" in r2.stdout


def test_cli_project_n_train_draws_more_shapes_and_writes_their_factors(capsys, tmp_path, monkeypatch):
    """`--n-train N` on a shapes model: N generated training images on the map, their factors in the .npz."""
    from vae.data import SHAPE_FACTOR_NAMES, make_shapes

    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "shapes.npz"
    r = _project(capsys, ROOT / "assets" / "shapes-8d", "--split", "train", "--n-train", "700", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "drawing shapes" in r.stderr and "700 points of shapes train" in r.stdout
    seed = load_model(ROOT / "assets" / "shapes-8d", device="cpu").checkpoint_info["train"].get("seed", 0)
    images, factors = make_shapes(700, 32, seed * 2)
    with np.load(out) as f:
        assert f["embedding"].shape == (700, 2)
        assert np.array_equal(f["factors"], factors) and list(f["factor_names"]) == SHAPE_FACTOR_NAMES
        assert np.array_equal(f["labels"], factors[:, 0].astype(np.int64))


@pytest.mark.parametrize("args, phrase", [
    (["--out", "map.txt"], "--out must name an .npz"),
    (["--out", "m.npz", "--fit-points", "2"], "--fit-points must be at least 4"),
    (["--out", "m.npz", "--n-train", "1000"], "--n-train applies to generated shapes data"),
])
def test_cli_project_bad_input_is_one_line(capsys, tmp_path, args, phrase):
    from tests.test_cli import assert_clean_error

    r = _project(capsys, ROOT / "assets" / "digits-2d", *[str(tmp_path / a) if a.endswith(("npz", "txt")) else a
                                                            for a in args])
    assert_clean_error(r, phrase)


def test_cli_project_all_of_mnist_is_70000_rows(mnist_dir, capsys, tmp_path, monkeypatch):
    """`--split all` on MNIST: the 60,000 training images then the 10,000 test images, no sampling."""
    from vae.data.idx import read_idx

    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "mnist.npz"
    r = _project(capsys, ROOT / "assets" / "mnist-16d", "--data-dir", mnist_dir, "--split", "all",
                 "--method", "pca", "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    want = np.concatenate([read_idx(mnist_dir / "train-labels-idx1-ubyte.gz"),
                           read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")])
    with np.load(out) as f:
        assert f["embedding"].shape == (70_000, 2) and f["embedding"].dtype == np.float32
        assert np.array_equal(f["labels"], want)
        assert np.array_equal(f["split"], np.r_[np.zeros(60_000), np.ones(10_000)].astype(np.uint8))
        assert np.array_equal(f["index"], np.r_[np.arange(60_000), np.arange(10_000)])


def test_tsne_is_fitted_on_every_row_of_a_large_map_and_umap_on_a_sample(monkeypatch):
    """By default t-SNE maps every row up to 100,000 (on 70,000 MNIST latents a fit on a 20,000 sample lost
    0.013 of 10-NN accuracy and gained no time); UMAP keeps its 20,000 sample (4.3x faster than every row)."""
    from dataclasses import replace

    import vae.analysis.projection_methods as pm
    from vae.analysis.large_map import default_fit_points, projection_cache_path
    from vae.analysis.projection import Projection

    assert default_fit_points("tsne") == 100_000 and default_fit_points("umap") == 20_000
    assert default_fit_points("tsne", 500) == 500
    with pytest.raises(ValueError, match="at least 4"):
        default_fit_points("umap", 3)
    fitted = []

    def fit(mu, n_components=2, **_):
        fitted.append(len(mu))
        return Projection("tsne", n_components, np.zeros((len(mu), n_components), np.float32))

    monkeypatch.setitem(pm.PROJECTIONS, "tsne", replace(pm.PROJECTIONS["tsne"], fit=fit))
    x = np.random.default_rng(0).normal(size=(25_000, 3)).astype(np.float32)
    emb, info = project_all(x, "tsne")
    assert fitted == [25_000] and (info["fitted"], info["placed"]) == (25_000, 0) and emb.shape == (25_000, 2)
    # the cache key holds the number used, so an explicit 100,000 finds the map made with the default
    assert projection_cache_path(x, "tsne") == projection_cache_path(x, "tsne", fit_points=100_000)
