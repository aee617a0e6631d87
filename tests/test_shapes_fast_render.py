"""The strip renderer of vae.data.shapes draws exactly the images of the former one-canvas-per-image renderer."""

import hashlib

import numpy as np
import pytest
from vae.data import load_dataset
from vae.data import shapes as S


@pytest.mark.parametrize("n, size, seed", [(600, 32, 0), (300, 64, 3), (257, 17, 9)])
def test_strip_renderer_matches_the_one_by_one_renderer(n, size, seed):
    factors = S._sample_factors(n, np.random.default_rng(seed))   # 257: a strip and one image more
    assert (S.render_shapes(factors, size) == S.render_shapes_one_by_one(factors, size)).all()


def test_shapes_leaving_their_tile_are_drawn_as_before():
    factors = S._sample_factors(60, np.random.default_rng(1))
    factors[:30, 3] = np.linspace(-1.5, 2.5, 30)      # centres off the canvas, left and right
    factors[30:, 4] = np.linspace(-2.0, 3.0, 30)      # and above and below: would reach a neighbour tile
    factors[::7, 1] = 0.05
    assert (S.render_shapes(factors, 32) == S.render_shapes_one_by_one(factors, 32)).all()


def test_make_shapes_images_are_those_drawn_before_the_strip_renderer():
    # sha256 of make_shapes' images as the one-by-one renderer drew them (commit 6fcd8d4)
    images, _ = S.make_shapes(300, 32, 0)
    assert hashlib.sha256(images.tobytes()).hexdigest() == "a74822e027820f9da2102585cd15f0e6bdb64e62b305c6caba604a23b5aa032c"
    images, _ = S.make_shapes(100, 64, 5)
    assert hashlib.sha256(images.tobytes()).hexdigest() == "21e3196015626b1b2c3a0205ff35f6e88de4dad793b240f4be90bf246f7b79f0"


def test_generate_shapes_is_make_shapes_uncached_with_progress():
    calls = []
    images, factors = S.generate_shapes(600, 32, 4, progress=lambda done, n: calls.append((done, n)))
    cached_images, cached_factors = S.make_shapes(600, 32, 4)
    assert images.flags.writeable and (images == cached_images).all() and (factors == cached_factors).all()
    assert calls == [(256, 600), (512, 600), (600, 600)]


def test_load_dataset_shapes_reports_progress_over_both_splits():
    calls = []
    ds = load_dataset("shapes", n_train=300, n_test=50, seed=2, progress=lambda done, n: calls.append((done, n)))
    assert calls[-1] == (350, 350) and calls[0] == (256, 350)
    assert (ds.train.images.numpy() == S.make_shapes(300, 32, 4)[0]).all()
    assert (ds.test.images.numpy() == S.make_shapes(50, 32, 5)[0]).all()
    assert ds.train.labels.tolist() == ds.train.factors[:, 0].long().tolist()
