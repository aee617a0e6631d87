"""Trustworthiness and 10-NN accuracy reported beside a map's time (vae.analysis.map_quality)."""

from __future__ import annotations

import numpy as np
import pytest

from vae.analysis.map_quality import format_quality, map_quality


def test_a_map_that_keeps_every_neighbour_is_fully_trustworthy_and_a_shuffled_one_is_not():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 3000)
    mu = (np.array([[0, 0], [20, 0], [0, 20]])[labels] + rng.normal(0, 1, (3000, 2))).astype(np.float32)
    same = map_quality(mu, mu * 3.0 + 1.0, labels)          # a scaled, shifted copy keeps every neighbour
    assert same["trustworthiness"] == pytest.approx(1.0) and same["sample"] == 2000 and same["k"] == 10
    assert same["knn_accuracy"] > 0.9
    shuffled = map_quality(mu, rng.permutation(mu), labels)
    assert shuffled["trustworthiness"] < 0.6 and shuffled["knn_accuracy"] < 0.5
    assert format_quality(same) == f"trustworthiness 1.000, 10-NN accuracy {same['knn_accuracy']:.3f}"
    no_labels = map_quality(mu[:100], mu[:100])
    assert no_labels["knn_accuracy"] is None and no_labels["sample"] == 100
    assert format_quality(no_labels) == "trustworthiness 1.000"


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="same N"):
        map_quality(np.zeros((20, 3)), np.zeros((19, 2)))
    with pytest.raises(ValueError, match="at least 3"):
        map_quality(np.zeros((2, 3)), np.zeros((2, 2)))
    tiny = map_quality(np.arange(10.0).reshape(5, 2), np.arange(10.0).reshape(5, 2), np.array([0, 0, 1, 1, 1]))
    assert tiny["trustworthiness"] == pytest.approx(1.0)            # a t-SNE of 5 points still gets a number
