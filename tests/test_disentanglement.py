"""Disentanglement metrics on constructed codes whose answer is known."""

import numpy as np
import pytest

from vae.analysis.disentanglement import (FactorError, dci, dci_from_importance, discretize_factors, factorvae_score,
                                          mig, mutual_info_matrix, sap)
from vae.data.shapes import SHAPE_FACTOR_NAMES, make_shapes, render_shapes, sample_shape_factors

N = 3000


def _factors(n=N, seed=0):
    """Independent factors like the shapes' (a class of 3, 6 scales, three uniform ones). The shapes' own
    factors are not independent: a square's rotation spans pi/2, a heart's 2 pi."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, 3, n), rng.integers(0, 6, n) / 10 + 0.5, rng.random(n) * 2 * np.pi,
                     rng.random(n), rng.random(n)], axis=1)


def _standardize(a):
    return (a - a.mean(0)) / a.std(0)


def _perfect(factors, noise=0.01, seed=1):
    """Codes equal to the (standardised) factors plus a little noise: one dimension per factor."""
    rng = np.random.default_rng(seed)
    return _standardize(factors) + noise * rng.standard_normal(factors.shape)


def _split(codes, factors):
    k = 2 * len(codes) // 3
    return codes[:k], factors[:k], codes[k:], factors[k:]


def test_discretize_keeps_discrete_factors_and_bins_continuous_ones():
    f = _factors()
    d = discretize_factors(f)
    assert len(np.unique(d[:, 0])) == 3          # shape: its 3 classes
    assert len(np.unique(d[:, 1])) == 6          # scale: its 6 values
    for j in (2, 3, 4):                          # rotation, x, y: 20 equal-width bins
        assert len(np.unique(d[:, j])) == 20


def test_mig_of_perfect_codes_is_near_one():
    f = _factors()
    out = mig(_perfect(f), f)
    assert out["mig"] > 0.85
    assert np.asarray(out["mi_matrix"]).shape == (5, 5)
    assert list(np.argmax(out["mi_matrix"], axis=0)) == [0, 1, 2, 3, 4]


def test_mig_of_perfect_codes_on_the_shapes_factors_is_capped_by_their_dependence():
    f = sample_shape_factors(N, np.random.default_rng(0)).astype(np.float64)
    out = mig(_perfect(f), f)
    # the rotation's range depends on the shape: the rotation dimension knows the shape too
    assert out["mi_matrix"][2, 0] > 0.2
    assert 0.7 < out["mig"] < 0.9


def test_mig_of_codes_independent_of_the_factors_is_near_zero():
    f = _factors()
    codes = np.random.default_rng(5).standard_normal((N, 8))
    assert mig(codes, f)["mig"] < 0.03
    assert mutual_info_matrix(codes, f).max() < 0.1      # nats: only the plug-in estimator's bias


def test_a_rotation_of_perfect_codes_lowers_mig():
    f = _factors()
    codes = _perfect(f)
    angle = np.pi / 4                            # mix x and y half and half
    rot = np.eye(5)
    rot[3:, 3:] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    perfect, rotated = mig(codes, f), mig(codes @ rot.T, f)
    assert rotated["mig"] < perfect["mig"] - 0.2
    assert rotated["mig_per_factor"][3] < 0.3 and rotated["mig_per_factor"][4] < 0.3
    assert rotated["mig_per_factor"][0] == pytest.approx(perfect["mig_per_factor"][0], abs=0.01)  # shape untouched


def test_dci_from_importance_on_known_matrices():
    assert dci_from_importance(np.eye(4)) == pytest.approx((1.0, 1.0))
    assert dci_from_importance(np.ones((4, 4))) == pytest.approx((0.0, 0.0), abs=1e-12)
    # two dimensions for one factor: disentangled (each dim one factor) but not complete
    d, c = dci_from_importance(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    assert d == pytest.approx(1.0) and c < 0.9
    assert dci_from_importance(np.zeros((3, 2))) == (0.0, 0.0)


@pytest.mark.parametrize("method", ["gbt", "lasso"])
def test_dci_of_perfect_codes_is_near_one(method):
    f = _factors()
    f = f[:1500]
    out = dci(*_split(_perfect(f), f), method=method)
    assert out["dci_disentanglement"] > 0.85
    assert out["dci_completeness"] > 0.85
    if method == "gbt":
        assert out["dci_informativeness"] > 0.9


def test_dci_of_independent_codes_is_near_zero():
    f = _factors()
    f = f[:1500]
    codes = np.random.default_rng(5).standard_normal((1500, 5))
    out = dci(*_split(codes, f), method="gbt")
    assert out["dci_disentanglement"] < 0.2
    assert out["dci_informativeness"] < 0.4      # chance level: 1/3 shape, 1/6 scale, 1/20 the rest


def test_sap_perfect_versus_independent():
    f = _factors()
    perfect = sap(*_split(_perfect(f), f))
    assert perfect["sap"] > 0.6
    assert (np.diag(perfect["sap_matrix"])[2:] > 0.99).all()     # R^2 of the continuous factors
    assert sap(*_split(np.random.default_rng(5).standard_normal((N, 5)), f))["sap"] < 0.05


def test_factorvae_score_of_the_identity_code_is_one():
    out = factorvae_score(lambda f: np.asarray(f, dtype=np.float64), sample_shape_factors,
                          n_train_votes=100, n_eval_votes=100, n_variance=2000)
    assert out["factorvae_score"] == 1.0
    assert out["active_dims"] == [0, 1, 2, 3, 4]
    assert np.asarray(out["factorvae_votes"]).trace() == 200


def test_factorvae_score_of_a_code_that_ignores_the_factors_is_at_chance():
    rng = np.random.default_rng(3)
    out = factorvae_score(lambda f: rng.standard_normal((len(f), 4)), sample_shape_factors,
                          n_train_votes=100, n_eval_votes=200, n_variance=2000)
    assert out["factorvae_score"] < 0.45          # 5 factors: chance 0.2, a majority vote per dim overfits a little


def test_metrics_refuse_mismatched_inputs():
    with pytest.raises(FactorError):
        mig(np.zeros((10, 2)), np.zeros((9, 5)))
    with pytest.raises(FactorError):
        dci(np.zeros((10, 2)), np.zeros((10, 1)), np.zeros((5, 2)), np.zeros((5, 1)), method="forest")


def test_render_shapes_draws_make_shapes_images_from_their_factors():
    images, factors = make_shapes(50, 32, seed=3)
    assert (render_shapes(factors, 32) == images).all()
    def column_centre(x):
        held = np.array(factors, dtype=np.float64)
        held[:, 3] = x                            # every image's x factor held at x
        cols = render_shapes(held, 32)[:, 0].astype(float).sum(axis=1)   # (n, W) mass per column
        return (cols * np.arange(32)).sum(1) / cols.sum(1)

    # x from 0.25 to 0.75 moves the centre by half of the middle half of 32 pixels, 8 pixels, in every image
    assert np.allclose(column_centre(0.75) - column_centre(0.25), 8.0, atol=0.05)
    assert len(SHAPE_FACTOR_NAMES) == factors.shape[1]
