"""Nearest neighbours in latent space against a brute-force reference, both distances."""

from __future__ import annotations

import numpy as np
import pytest

from vae.analysis.neighbours import nearest_neighbours, pairwise_distances, symmetric_kl


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 5)), rng.normal(-1.0, 0.5, size=(300, 5))   # mu, logvar


def brute_kl(m1, l1, m2, l2):
    """KL(N1||N2) + KL(N2||N1) for diagonal Gaussians, written out term by term."""
    total = 0.0
    for a, la, b, lb in ((m1, l1, m2, l2), (m2, l2, m1, l1)):
        va, vb = np.exp(la), np.exp(lb)
        total += 0.5 * np.sum(np.log(vb / va) + (va + (a - b) ** 2) / vb - 1.0)
    return total


def test_euclidean_matches_brute_force(points):
    mu, _ = points
    q = mu[:7] + 0.01
    idx, dist = nearest_neighbours(q, mu, k=6)
    for r in range(len(q)):
        d = [float(np.sqrt(((q[r] - m) ** 2).sum())) for m in mu]
        ref = sorted(range(len(mu)), key=lambda j: (d[j], j))[:6]
        assert idx[r].tolist() == ref
        np.testing.assert_allclose(dist[r], [d[j] for j in ref], rtol=1e-12)


def test_symmetric_kl_matches_brute_force(points):
    mu, lv = points
    q, ql = mu[10] * 0.9, lv[10] + 0.1
    idx, dist = nearest_neighbours(q, mu, k=5, metric="kl", query_logvar=ql, logvar=lv)
    d = [brute_kl(q, ql, mu[j], lv[j]) for j in range(len(mu))]
    ref = sorted(range(len(mu)), key=lambda j: (d[j], j))[:5]
    assert idx.tolist() == ref
    np.testing.assert_allclose(dist, [d[j] for j in ref], rtol=1e-10)
    assert symmetric_kl(mu[3], lv[3], mu[3], lv[3]) == pytest.approx(0.0)
    assert symmetric_kl(mu[3], lv[3], mu[4], lv[4]) == pytest.approx(symmetric_kl(mu[4], lv[4], mu[3], lv[3]))


def test_exclude_leaves_the_query_out_and_chunks_agree(points):
    mu, lv = points
    idx, dist = nearest_neighbours(mu[:20], mu, k=3, exclude=np.arange(20), chunk_elements=50)
    assert not (idx == np.arange(20)[:, None]).any()
    full = pairwise_distances(mu[:20], mu)
    full[np.arange(20), np.arange(20)] = np.inf
    np.testing.assert_array_equal(idx, np.argsort(full, axis=1, kind="stable")[:, :3])
    # without exclusion each point is its own nearest neighbour at distance 0
    idx0, dist0 = nearest_neighbours(mu[:5], mu, k=1)
    assert idx0[:, 0].tolist() == list(range(5)) and np.all(dist0 == 0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=0), "positive"), (dict(metric="cosine"), "unknown metric"), (dict(metric="kl"), "log-variances"),
])
def test_bad_arguments_are_refused(points, kwargs, match):
    with pytest.raises(ValueError, match=match):
        nearest_neighbours(points[0][0], points[0], **{"k": 3, **kwargs})


def test_k_larger_than_the_data_is_clipped():
    mu = np.eye(3)
    idx, dist = nearest_neighbours(mu[0], mu, k=10, exclude=0)
    assert sorted(idx.tolist()) == [1, 2] and np.allclose(dist, np.sqrt(2))
