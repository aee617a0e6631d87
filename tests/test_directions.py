"""Latent directions: attribute vectors recover a known offset; arithmetic; custom axes; JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest

from vae.analysis.directions import (CustomAxes, Direction, analogy, apply_direction, class_direction,
                                     directions_from_json, directions_to_json, factor_direction, group_direction)

OFFSET = np.array([2.0, -1.0, 0.5, 0.0, 3.0, 0.0])


@pytest.fixture(scope="module")
def synthetic():
    """600 latent points in 6-d: class 1 is class 0 moved by OFFSET, plus noise; a factor along one axis."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(600, 6))
    labels = np.repeat([0, 1], 300)
    mu = base + labels[:, None] * OFFSET
    return mu, labels


def test_class_direction_recovers_the_offset(synthetic):
    mu, labels = synthetic
    d = class_direction(mu, labels, a=0, b=1)
    # the difference of two means of 300 unit-variance points: error ~ sqrt(2/300) per coordinate
    np.testing.assert_allclose(d, OFFSET, atol=4 * np.sqrt(2 / 300))
    np.testing.assert_allclose(class_direction(mu, labels, 1, 0), -d)
    np.testing.assert_allclose(group_direction(mu, np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)), d)


def test_factor_direction_points_along_the_factor():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(2000, 5))
    true = np.array([0.0, 3.0, 0.0, -4.0, 0.0]) / 5.0                  # unit vector
    f = mu @ true * 2.0 + 7.0 + rng.normal(0, 0.05, 2000)               # the factor grows along `true`
    d = factor_direction(mu, f)
    cos = d @ true / np.linalg.norm(d)
    assert cos > 0.999
    # moving a point by d raises the factor's prediction by one standard deviation of the factor
    assert (d @ true) * 2.0 == pytest.approx(f.std(), rel=0.01)


def test_apply_and_analogy():
    z = np.zeros(6, np.float32)
    np.testing.assert_allclose(apply_direction(z, OFFSET, 1.5), 1.5 * OFFSET, rtol=1e-6)
    np.testing.assert_allclose(apply_direction(np.ones((3, 6)), OFFSET, 0.0), np.ones((3, 6)))
    a, b, c = np.arange(6.0), np.ones(6), np.full(6, 2.0)
    np.testing.assert_allclose(analogy(a, b, c), a + 1.0)
    with pytest.raises(ValueError, match="shape"):
        apply_direction(z, np.ones(5))


def test_custom_axes_read_components_and_invert():
    u1, u2 = np.array([1.0, 0, 0, 0]), np.array([0, 2.0, 0, 0])     # the second is scaled to unit length
    axes = CustomAxes.from_directions(u1, u2, centre=np.array([1.0, 1, 1, 1]))
    z = np.array([[3.0, -1.0, 5.0, 5.0]])
    np.testing.assert_allclose(axes.transform(z), [[2.0, -2.0]])
    back = axes.inverse_transform(axes.transform(z))
    np.testing.assert_allclose(axes.transform(back), axes.transform(z), atol=1e-6)
    np.testing.assert_allclose(back, [[3.0, -1.0, 1.0, 1.0]], atol=1e-6)     # the other directions at the centre
    assert axes.cosine == 0.0
    with pytest.raises(ValueError, match="parallel"):
        CustomAxes.from_directions(u1, 3 * u1)


def test_directions_json_round_trip_and_refusals():
    ds = [Direction("3 to 8", OFFSET, "classes"), Direction("right", -OFFSET, "factor x")]
    back = directions_from_json(directions_to_json(ds), latent_dim=6)
    assert [d.name for d in back] == ["3 to 8", "right"]
    np.testing.assert_array_equal(back[0].vector, OFFSET)
    with pytest.raises(ValueError, match="not 4-d"):
        directions_from_json(directions_to_json(ds), latent_dim=4)
    with pytest.raises(ValueError, match="not a JSON"):
        directions_from_json(b"\x80\x04pickle")
    with pytest.raises(ValueError, match="not a directions file"):
        directions_from_json("[1, 2]")
    with pytest.raises(ValueError, match="list of numbers"):
        directions_from_json('{"format": "vae-directions", "directions": [{"name": "x", "vector": "abc"}]}')
