"""distant_typical_pair: two typical points of different classes, far apart."""

import numpy as np
import pytest

from vae.analysis.endpoints import distant_typical_pair


def test_the_two_farthest_class_centres_each_give_their_most_typical_point():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [-5.0, 5.0], [6.0, -4.0]])
    labels = np.repeat(np.arange(4), 50)
    mu = centres[labels] + 0.1 * rng.standard_normal((200, 2))
    mu[3] = [-40.0, 40.0]                     # an outlier of class 0: never chosen, it is not typical
    i, j = distant_typical_pair(mu, labels)
    assert {labels[i], labels[j]} == {2, 3}
    for k in (i, j):
        rows = labels == labels[k]
        assert np.linalg.norm(mu[k] - centres[labels[k]]) < 0.1 and rows.sum() == 50


def test_one_class_gives_the_farthest_pair_and_too_few_points_are_refused():
    mu = np.array([[0.0], [3.0], [-2.0]])
    assert sorted(distant_typical_pair(mu, np.zeros(3))) == [1, 2]
    with pytest.raises(ValueError):
        distant_typical_pair(mu[:1], np.zeros(1))


def test_the_default_interpolation_endpoints_of_the_digits_model_are_far_apart():
    import vae
    from vae.analysis.latent import encode_dataset
    from vae.data import load_dataset

    model = vae.load_model("assets/digits-2d")
    ds = load_dataset("digits")
    mu = encode_dataset(model, ds.test.images)[0]
    i, j = distant_typical_pair(mu, ds.test.labels.numpy())
    assert ds.test.labels[i] != ds.test.labels[j]
    spread = np.linalg.norm(mu - mu.mean(0), axis=1).mean()
    assert np.linalg.norm(mu[i] - mu[j]) > 2 * spread
    assert np.linalg.norm(mu[0] - mu[1]) < np.linalg.norm(mu[i] - mu[j])
