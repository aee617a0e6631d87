"""Likelihood ranking: a permutation sorted by the IWAE estimate; the same seed gives the same order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vae import load_model
from vae.analysis.likelihood import iwae_log_likelihood
from vae.analysis.ranking import rank_by_likelihood
from vae.data import load_dataset


@pytest.fixture(scope="module")
def digits(assets_dir):
    torch.set_num_threads(1)
    return load_model(assets_dir / "digits-2d"), load_dataset("digits").test.images[:120]


def test_ranking_is_a_sorted_permutation(digits):
    model, x = digits
    calls = []
    r = rank_by_likelihood(model, x, k=20, seed=3, batch=50, progress=lambda d, t: calls.append((d, t)))
    assert sorted(r.order.tolist()) == list(range(len(x)))
    assert np.all(np.diff(r.log_px[r.order]) >= 0)
    assert r.least(1)[0] == int(np.argmin(r.log_px)) and r.most(1)[0] == int(np.argmax(r.log_px))
    assert r.rank[r.order[0]] == 0 and r.rank[r.order[-1]] == len(x) - 1
    assert calls == [(0, 120), (50, 120), (100, 120), (120, 120)]
    # the ELBO (analytic KL) sits below the IWAE estimate on average; figures in a sane range
    assert r.gap.mean() > 0 and np.all(r.log_px < 0) and np.all(np.isfinite(r.elbo))


def test_same_seed_same_order_and_it_is_the_iwae_estimate(digits):
    model, x = digits
    a = rank_by_likelihood(model, x, k=20, seed=3, batch=50)
    b = rank_by_likelihood(model, x, k=20, seed=3, batch=50)
    np.testing.assert_array_equal(a.order, b.order)
    np.testing.assert_array_equal(a.log_px, b.log_px)
    c = rank_by_likelihood(model, x, k=20, seed=4, batch=50)
    assert not np.array_equal(a.log_px, c.log_px)
    # one batch through the library's estimator with the same generator gives the same numbers
    g = torch.Generator().manual_seed(3)
    ref = iwae_log_likelihood(model, x[:50], 20, generator=g).double().numpy()
    np.testing.assert_allclose(a.log_px[:50], ref, rtol=1e-5)


def test_bad_input_is_refused(digits):
    model, x = digits
    with pytest.raises(ValueError, match="positive integer"):
        rank_by_likelihood(model, x, k=0)
    with pytest.raises(ValueError, match="non-empty"):
        rank_by_likelihood(model, x[:0], k=5)


def test_the_ranking_exports_as_csv_least_likely_first():
    """Issue 27: the Likelihood ranking can be exported (the page's "Ranking as CSV")."""
    import csv
    import io

    import numpy as np

    from vae.analysis.ranking import LikelihoodRanking

    log_px, elbo = np.array([-5.0, -9.0, -7.0]), np.array([-6.0, -9.5, -7.25])
    r = LikelihoodRanking(log_px, elbo, np.lexsort((np.arange(3), log_px)), 50, 3, 0.1)
    rows = list(csv.DictReader(io.StringIO(r.to_csv(np.array([40, 41, 42]), np.array([1, 0, 7]), ["zero", "one"]))))
    assert [(row["rank"], row["index"], row["label"]) for row in rows] == [("1", "41", "zero"), ("2", "42", "7"),
                                                                         ("3", "40", "one")]
    assert [float(row["gap_nats"]) for row in rows] == [0.5, 0.25, 1.0]
    assert {row["k"] for row in rows} == {"50"} and {row["seed"] for row in rows} == {"3"}
