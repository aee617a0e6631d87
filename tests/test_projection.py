"""Projections of latent means: PCA (exact, invertible) and t-SNE (openTSNE, tuned for speed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vae.analysis.projection import Projection, knn_label_accuracy, project_pca, project_tsne

FAST = dict(early_exaggeration_iter=60, n_iter=120, n_jobs=1)  # enough for two clusters of 250


@pytest.fixture(scope="module")
def two_clusters():
    """500 points in 10-d: two Gaussian blobs 8 standard deviations apart, labels 0 / 1."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (250, 10)), rng.normal(8, 1, (250, 10))]).astype(np.float32)
    return x, np.repeat([0, 1], 250)


@pytest.fixture(scope="module")
def tsne_run(two_clusters):
    calls = []
    proj = project_tsne(two_clusters[0], seed=3, progress=lambda i, total, msg: calls.append((i, total, msg)), **FAST)
    return proj, calls


# ---- PCA ------------------------------------------------------------------------------------------

def test_pca_of_2d_latent_is_a_rotation_and_round_trips():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(300, 2)) @ np.array([[3.0, 1.0], [0.0, 0.5]]) + [1.0, -2.0]
    proj = project_pca(z.astype(np.float32))
    assert proj.embedding.shape == (300, 2) and proj.embedding.dtype == np.float32
    np.testing.assert_allclose(proj.components @ proj.components.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(proj.inverse_transform(proj.transform(z)), z, atol=1e-5)
    np.testing.assert_allclose(proj.transform(z), proj.embedding, atol=1e-5)
    # distances are kept (a rotation about the mean), and the first axis carries the most variance
    d0 = np.linalg.norm(z[:50, None] - z[None, :50], axis=-1)
    d1 = np.linalg.norm(proj.embedding[:50, None] - proj.embedding[None, :50], axis=-1)
    np.testing.assert_allclose(d1, d0, atol=1e-4)
    assert proj.explained_variance_ratio.sum() == pytest.approx(1.0)
    assert proj.explained_variance_ratio[0] > proj.explained_variance_ratio[1]


def test_pca_inverse_is_the_orthogonal_projection_onto_the_plane():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(400, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    proj = project_pca(z, n_components=2)
    back = proj.inverse_transform(proj.transform(z)).astype(np.float64)
    resid = z - back
    # the residual is orthogonal to the components, and projecting again changes nothing
    np.testing.assert_allclose(resid @ proj.components.T, 0, atol=1e-4)
    np.testing.assert_allclose(proj.inverse_transform(proj.transform(back)), back, atol=1e-4)
    # the two leading axes of this data are the first two coordinate axes
    assert np.abs(proj.components[:, :2]).max(axis=1) == pytest.approx([1.0, 1.0], abs=0.05)
    # matches scikit-learn's explained variance
    from sklearn.decomposition import PCA
    np.testing.assert_allclose(proj.explained_variance_ratio, PCA(2).fit(z).explained_variance_ratio_, rtol=1e-6)


def test_pca_three_components_and_single_points():
    z = np.random.default_rng(3).normal(size=(50, 5))
    proj = project_pca(torch.from_numpy(z), n_components=3)
    assert proj.embedding.shape == (50, 3) and proj.invertible
    assert proj.transform(z[0]).shape == (3,) and proj.inverse_transform([0.0, 0.0, 0.0]).shape == (5,)
    np.testing.assert_allclose(proj.inverse_transform([0.0, 0.0, 0.0]), z.mean(0), atol=1e-6)


def test_pca_is_deterministic_in_sign():
    z = np.random.default_rng(4).normal(size=(100, 4))
    a, b = project_pca(z), project_pca(z.copy())
    np.testing.assert_array_equal(a.embedding, b.embedding)
    assert (a.components[np.arange(2), np.abs(a.components).argmax(1)] > 0).all()


@pytest.mark.parametrize("bad, match", [
    (np.zeros((5,)), "2-d array"),
    (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN"),
    (np.zeros((1, 3)), "at least 2"),
])
def test_pca_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        project_pca(bad)


def test_pca_rejects_more_components_than_dims():
    with pytest.raises(ValueError, match="at least 3 latent dimensions"):
        project_pca(np.zeros((10, 2)), n_components=3)
    with pytest.raises(ValueError, match="n_components"):
        project_pca(np.zeros((10, 4)), n_components=1)


# ---- t-SNE ----------------------------------------------------------------------------------------

def test_tsne_shape_and_finite(tsne_run):
    proj, _ = tsne_run
    assert isinstance(proj, Projection) and proj.method == "tsne" and proj.n_components == 2
    assert proj.embedding.shape == (500, 2) and proj.embedding.dtype == np.float32
    assert np.isfinite(proj.embedding).all()
    assert proj.embedding.std(0).min() > 1.0   # it spread out from the tiny PCA initialisation
    with pytest.raises(ValueError, match="linear projection"):
        proj.transform(np.zeros((1, 10)))


def test_tsne_separates_two_clusters(tsne_run, two_clusters):
    proj, _ = tsne_run
    labels = two_clusters[1]
    assert knn_label_accuracy(proj.embedding, labels, k=10) == 1.0
    c0, c1 = proj.embedding[labels == 0].mean(0), proj.embedding[labels == 1].mean(0)
    spread = max(proj.embedding[labels == 0].std(0).max(), proj.embedding[labels == 1].std(0).max())
    assert np.linalg.norm(c0 - c1) > 3 * spread


def test_tsne_progress_counts_up_to_total(tsne_run):
    _, calls = tsne_run
    its = [c[0] for c in calls]
    total = FAST["early_exaggeration_iter"] + FAST["n_iter"]
    assert len(calls) > 10
    assert its[0] == 0 and its[-1] == total
    assert all(b > a for a, b in zip(its, its[1:]))
    assert all(c[1] == total for c in calls) and all(isinstance(c[2], str) and c[2] for c in calls)


def test_tsne_reproducible_with_seed(tsne_run, two_clusters):
    again = project_tsne(two_clusters[0], seed=3, **FAST)
    np.testing.assert_array_equal(again.embedding, tsne_run[0].embedding)


def test_tsne_3d_and_small_n_lowers_perplexity(two_clusters):
    x, labels = two_clusters
    idx = np.r_[0:30, 250:280]
    proj = project_tsne(x[idx], n_components=3, seed=0, **FAST)
    assert proj.embedding.shape == (60, 3) and np.isfinite(proj.embedding).all()
    assert proj.params["negative_gradient_method"] == "bh"
    assert proj.params["perplexity"] == pytest.approx(59 / 3)
    assert knn_label_accuracy(proj.embedding, labels[idx], k=5) == 1.0


def test_tsne_rejects_bad_input():
    with pytest.raises(ValueError, match="n_components"):
        project_tsne(np.zeros((10, 3)), n_components=4)
    with pytest.raises(ValueError, match="at least 4"):
        project_tsne(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="perplexity"):
        project_tsne(np.random.default_rng(0).normal(size=(10, 3)), perplexity=0)


def test_knn_label_accuracy_leaves_each_point_out():
    # two tight pairs far apart: each point's single neighbour is its partner
    e = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [10.1, 0.0]])
    assert knn_label_accuracy(e, np.array([0, 0, 1, 1]), k=1) == 1.0
    assert knn_label_accuracy(e, np.array([0, 1, 0, 1]), k=1) == 0.0


def test_small_2d_maps_use_barnes_hut_and_large_ones_the_fft_gradient(two_clusters):
    """The FFT gradient's grid has a fixed cost that made 300 points as slow as thousands."""
    from vae.analysis.projection import TSNE_BH_MAX_POINTS

    x, labels = two_clusters
    small = project_tsne(x, seed=0, **FAST)
    assert len(x) <= TSNE_BH_MAX_POINTS and small.params["negative_gradient_method"] == "bh"
    assert knn_label_accuracy(small.embedding, labels, k=10) == 1.0
    big = np.concatenate([x + 0.01 * i for i in range(TSNE_BH_MAX_POINTS // len(x) + 1)])
    assert project_tsne(big, seed=0, early_exaggeration_iter=1, n_iter=1).params["negative_gradient_method"] == "fft"


def test_tsne_snapshots_are_copies_of_the_layout_as_it_moves(two_clusters):
    seen = []
    proj = project_tsne(two_clusters[0], seed=3, snapshot=lambda it, total, xy: seen.append((it, total, xy)), **FAST)
    total = FAST["early_exaggeration_iter"] + FAST["n_iter"]
    its = [s[0] for s in seen]
    assert its[0] == 0 and len(seen) > 10 and all(b > a for a, b in zip(its, its[1:])) and its[-1] < total
    assert all(s[1] == total and s[2].shape == (500, 2) and s[2].dtype == np.float32 for s in seen)
    # copies, not views of the array openTSNE moves: each differs from the next and from the final map
    assert all(not np.array_equal(a[2], b[2]) for a, b in zip(seen, seen[1:]))
    assert not np.array_equal(seen[-1][2], proj.embedding)
    # watching changes nothing
    np.testing.assert_array_equal(proj.embedding, project_tsne(two_clusters[0], seed=3, **FAST).embedding)


def test_large_maps_take_the_short_schedule_on_fewer_neighbours(two_clusters, monkeypatch):
    """From TSNE_LARGE_POINTS points: 75 + 75 iterations on 1.5 x perplexity neighbours (bench/large_map.py: 70,000
    MNIST latents at openTSNE's 10-NN accuracy); smaller maps keep 125 + 250 on openTSNE's 3 x perplexity."""
    import vae.analysis.projection as projection

    x, labels = two_clusters
    small = project_tsne(x[::5], seed=0, n_iter=1, early_exaggeration_iter=0, perplexity=10)    # 100 points
    assert small.params["k_neighbors"] == 30
    monkeypatch.setattr(projection, "TSNE_LARGE_POINTS", 500)
    large = project_tsne(x, seed=0, perplexity=20, n_jobs=1)
    p = large.params
    assert (p["early_exaggeration_iter"], p["n_iter"], p["k_neighbors"]) == (75, 75, 30)
    assert knn_label_accuracy(large.embedding, labels, k=10) == 1.0
    with pytest.raises(ValueError, match="k_neighbors"):
        project_tsne(x, k_neighbors=500)
