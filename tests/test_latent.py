"""Latent-space tools: encoding, interpolation, traversals, grids, nearest points, image export."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vae import VAE, ModelConfig
from vae.analysis.latent import (decode_images, decode_numpy, encode_dataset, gif_bytes, image_grid, lerp, log_prior_density,
                        manifold_grid, nearest_point, png_bytes, prior_samples, slerp, strip_png, to_uint8,
                        traversal_grid)
from vae.densities import log_standard_normal


def _model(latent_dim: int, **kw) -> VAE:
    torch.manual_seed(0)
    return VAE(ModelConfig(latent_dim=latent_dim, image_size=8, hidden=(32,), **kw)).eval()


@pytest.fixture(scope="module")
def model2():
    return _model(2)


@pytest.fixture(scope="module")
def model5():
    return _model(5)


# ---- lerp / slerp ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [lerp, slerp])
def test_interpolation_endpoints_exact_numpy_and_torch(fn):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=16).astype(np.float32), rng.normal(size=16).astype(np.float32)
    path = fn(a, b, 9)
    assert isinstance(path, np.ndarray) and path.shape == (9, 16) and path.dtype == np.float32
    assert np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    tpath = fn(torch.from_numpy(a), torch.from_numpy(b), 9)
    assert isinstance(tpath, torch.Tensor) and tpath.dtype == torch.float32 and tpath.shape == (9, 16)
    assert torch.equal(tpath[0], torch.from_numpy(a)) and torch.equal(tpath[-1], torch.from_numpy(b))
    np.testing.assert_allclose(tpath.numpy(), path, atol=1e-6)


def test_lerp_midpoint_is_the_mean_and_steps_are_equal():
    a, b = np.array([1.0, -2.0, 3.0]), np.array([5.0, 2.0, -1.0])
    path = lerp(a, b, 5)
    np.testing.assert_allclose(path[2], (a + b) / 2)
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    np.testing.assert_allclose(steps, np.linalg.norm(b - a) / 4)


def test_slerp_keeps_the_norm_for_equal_norm_endpoints():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=20), rng.normal(size=20)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    path = slerp(a, b, 11)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(a), rtol=1e-10)
    # the angle moves in equal steps, and the midpoint is the normalised mean direction
    ang = np.arccos(np.clip(path[:-1] @ b / np.linalg.norm(a) ** 2, -1, 1))
    np.testing.assert_allclose(np.diff(ang), np.diff(ang)[0], atol=1e-9)
    mid = (a + b) / np.linalg.norm(a + b) * np.linalg.norm(a)
    np.testing.assert_allclose(path[5], mid, atol=1e-10)
    # whereas lerp cuts through the middle, with a smaller norm
    assert np.linalg.norm(lerp(a, b, 11)[5]) < 0.99 * np.linalg.norm(a)


def test_slerp_norm_stays_between_endpoint_norms_on_a_quarter_circle():
    a, b = np.array([3.0, 0.0]), np.array([0.0, 4.0])
    norms = np.linalg.norm(slerp(a, b, 21), axis=1)
    assert norms.min() >= 3.0 - 1e-9 and norms.max() <= 4.0 + 1e-9


def test_slerp_falls_back_to_lerp_when_parallel_or_zero():
    a = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(slerp(a, 2 * a, 5), lerp(a, 2 * a, 5))
    np.testing.assert_allclose(slerp(a, -a, 5), lerp(a, -a, 5))
    np.testing.assert_allclose(slerp(np.zeros(3), a, 4), lerp(np.zeros(3), a, 4))
    assert np.isfinite(slerp(a, a * (1 + 1e-12), 5)).all()


def test_interpolation_rejects_bad_input():
    with pytest.raises(ValueError, match="n >= 2"):
        lerp(np.zeros(3), np.ones(3), 1)
    with pytest.raises(ValueError, match="same length"):
        slerp(np.zeros(3), np.ones(4), 5)


# ---- encoding and decoding -----------------------------------------------------------------------

def test_encode_dataset_matches_model_encode_in_batches(model5):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (37, 1, 8, 8), dtype=torch.uint8, generator=g)
    mu, logvar = encode_dataset(model5, images, batch_size=8)
    assert mu.shape == logvar.shape == (37, 5) and mu.dtype == logvar.dtype == np.float32
    with torch.no_grad():
        ref_mu, ref_logvar = model5.encode(images.float() / 255)
    np.testing.assert_allclose(mu, ref_mu.numpy(), atol=1e-5)
    np.testing.assert_allclose(logvar, ref_logvar.numpy(), atol=1e-5)
    mu_np, _ = encode_dataset(model5, images.numpy(), batch_size=1000)   # numpy in, one batch
    np.testing.assert_allclose(mu_np, mu, atol=1e-5)


def test_encode_dataset_rejects_bad_input(model5):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        encode_dataset(model5, np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="expected images of shape"):
        encode_dataset(model5, np.zeros((2, 1, 9, 9), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        encode_dataset(model5, np.zeros((2, 1, 8, 8), np.int32))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="model is on cpu"):
            encode_dataset(model5, np.zeros((2, 1, 8, 8), np.uint8), device="cuda")


def test_decode_numpy_is_rounded_decode(model5):
    z = np.random.default_rng(0).normal(size=(10, 5)).astype(np.float32)
    out = decode_numpy(model5, z, batch_size=3)
    assert out.shape == (10, 1, 8, 8) and out.dtype == np.uint8
    with torch.no_grad():
        ref = model5.decode(torch.from_numpy(z)).numpy()
    assert np.abs(out.astype(int) - np.rint(ref * 255)).max() <= 1
    np.testing.assert_array_equal(decode_numpy(model5, z[0]), out[:1])   # a single (D,) point
    with pytest.raises(ValueError, match=r"\(M, 5\)"):
        decode_numpy(model5, np.zeros((2, 3)))


# ---- traversals, prior samples, manifold ------------------------------------------------------------

def test_traversal_grid_shape_and_swept_dimension(model5):
    z = np.zeros(5, np.float32)
    grid = traversal_grid(model5, z, dims=[1, 3], n_steps=6, span=2.0)
    assert grid.shape == (2, 6, 1, 8, 8) and grid.dtype == np.float32
    assert grid.min() >= 0 and grid.max() <= 1
    for r, d in enumerate([1, 3]):
        zz = np.zeros((6, 5), np.float32)
        zz[:, d] = np.linspace(-2, 2, 6)
        np.testing.assert_allclose(grid[r], decode_images(model5, zz), atol=1e-6)
        assert np.abs(grid[r, 0] - grid[r, -1]).max() > 1e-3   # sweeping it changes the image
    assert traversal_grid(model5, torch.zeros(5)).shape == (5, 7, 1, 8, 8)   # default: every dimension


def test_traversal_grid_ignores_a_dimension_the_decoder_ignores():
    m = _model(3)
    with torch.no_grad():
        m.decoder.net[0].weight[:, 2] = 0.0   # dimension 2 is now unused
    grid = traversal_grid(m, np.array([0.5, -0.5, 0.0]), dims=[0, 2])
    assert np.abs(grid[0, 0] - grid[0, -1]).max() > 1e-3
    np.testing.assert_allclose(grid[1], np.broadcast_to(grid[1, :1], grid[1].shape), atol=1e-7)
    with pytest.raises(ValueError, match="out of range"):
        traversal_grid(m, np.zeros(3), dims=[3])


def test_prior_samples_are_seeded_and_scaled(model5):
    z, images = prior_samples(model5, 400, temperature=0.5, seed=7)
    assert z.shape == (400, 5) and images.shape == (400, 1, 8, 8)
    assert z.std() == pytest.approx(0.5, rel=0.1)
    z2, images2 = prior_samples(model5, 400, temperature=0.5, seed=7)
    np.testing.assert_array_equal(z, z2)
    np.testing.assert_array_equal(images, images2)
    np.testing.assert_allclose(images, decode_images(model5, z), atol=1e-6)
    assert not np.array_equal(prior_samples(model5, 400, seed=8)[0], prior_samples(model5, 400, seed=7)[0])


def test_manifold_grid_inverse_cdf_and_extent(model2):
    images, z = manifold_grid(model2, n=6)
    assert images.shape == (6, 6, 1, 8, 8) and z.shape == (6, 6, 2)
    from statistics import NormalDist
    expect = [NormalDist().inv_cdf((i + 0.5) / 6) for i in range(6)]
    np.testing.assert_allclose(z[0, :, 0], expect, atol=1e-6)          # x increases along a row
    np.testing.assert_allclose(z[:, 0, 1], expect[::-1], atol=1e-6)    # y decreases down the rows
    np.testing.assert_allclose(images.reshape(36, 1, 8, 8), decode_images(model2, z.reshape(36, 2)), atol=1e-6)
    images, z = manifold_grid(model2, n=5, extent=(-1, 3, 0, 2))
    np.testing.assert_allclose(z[-1, :, 0], np.linspace(-1, 3, 5), atol=1e-6)
    np.testing.assert_allclose(z[:, 0, 1], np.linspace(2, 0, 5), atol=1e-6)


def test_manifold_grid_needs_2d_latent(model5):
    with pytest.raises(ValueError, match="2-d latent space"):
        manifold_grid(model5)


# ---- where a point lies ------------------------------------------------------------------------------

def test_log_prior_density_matches_model_helper():
    z = np.random.default_rng(0).normal(size=(7, 4))
    lp = log_prior_density(z)
    assert lp.shape == (7,)
    np.testing.assert_allclose(lp, log_standard_normal(torch.from_numpy(z)).numpy())
    np.testing.assert_allclose(log_prior_density(np.zeros((1, 4))), [-2 * np.log(2 * np.pi)])
    assert isinstance(log_prior_density(torch.zeros(2, 3)), torch.Tensor)


def test_nearest_point_exact_against_brute_force():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(2000, 20)).astype(np.float32)
    q = rng.normal(size=(50, 20))
    idx, dist = nearest_point(q, mu, chunk_elements=100_000)   # several chunks
    brute = np.linalg.norm(q[:, None, :] - mu[None].astype(np.float64), axis=-1)
    np.testing.assert_array_equal(idx, brute.argmin(1))
    np.testing.assert_allclose(dist, brute.min(1), rtol=1e-12)
    i, d = nearest_point(mu[123], mu)
    assert (i, d) == (123, 0.0)
    i, d = nearest_point(torch.from_numpy(q[0]), torch.from_numpy(mu))
    assert isinstance(i, int) and i == idx[0] and d == pytest.approx(dist[0])
    with pytest.raises(ValueError, match="match mu"):
        nearest_point(np.zeros(3), mu)


# ---- image export ---------------------------------------------------------------------------------

def test_to_uint8_clips_and_rounds():
    x = np.array([-0.5, 0.0, 0.5, 1.0, 2.0, np.nan])
    np.testing.assert_array_equal(to_uint8(x), [0, 0, 128, 255, 255, 0])
    u = np.arange(5, dtype=np.uint8)
    assert to_uint8(u) is u
    assert to_uint8(torch.ones(2)).tolist() == [255, 255]


def test_image_grid_sizes_and_placement():
    imgs = np.zeros((5, 1, 4, 6), np.float32)
    imgs[3] = 1.0
    g = image_grid(imgs, nrow=3, pad=2, scale=2, pad_value=0.0)
    assert g.mode == "L" and g.size == (3 * (12 + 2) + 2, 2 * (8 + 2) + 2)
    a = np.asarray(g)
    assert a[2:10, 2:14].max() == 0 and a[12:20, 2:14].min() == 255   # tile 3 is row 1, column 0
    g = image_grid(np.zeros((2, 3, 3, 1, 5, 5)).reshape(2, 3, 3, 5, 5), pad=1)   # (R, K, C, H, W) RGB
    assert g.mode == "RGB" and g.size == (3 * 6 + 1, 2 * 6 + 1)
    assert image_grid(np.zeros((10, 1, 2, 2)), pad=0).size == (8, 6)   # default nrow = ceil(sqrt(10)) = 4
    grey = np.asarray(image_grid(np.zeros((1, 1, 2, 2)), pad=1))
    assert grey[0, 0] == 128 and grey[1, 1] == 0
    with pytest.raises(ValueError, match="channels"):
        image_grid(np.zeros((2, 2, 4, 4)))


def test_png_and_strip_decode_to_the_right_size():
    frames = np.random.default_rng(0).random((4, 1, 5, 5))
    im = Image.open(io.BytesIO(strip_png(frames, scale=3, pad=1)))
    assert im.format == "PNG" and im.size == (4 * 16 + 1, 17)
    im = Image.open(io.BytesIO(png_bytes(image_grid(frames, nrow=2, pad=0))))
    assert im.size == (10, 10)
    np.testing.assert_array_equal(np.asarray(im)[:5, 5:], to_uint8(frames[1, 0]))


@pytest.mark.parametrize("channels", [1, 3])
def test_gif_bytes_decodes_to_all_frames(channels):
    n = 6
    frames = np.zeros((n, channels, 5, 7), np.float32)
    for i in range(n):
        frames[i, :, :, i] = 1.0   # a moving bar: every frame different
    im = Image.open(io.BytesIO(gif_bytes(frames, duration_ms=50, scale=4)))
    assert im.format == "GIF" and im.n_frames == n and im.size == (28, 20)
    assert im.info.get("loop") == 0 and im.info.get("duration") == 50
    im.seek(2)
    a = np.asarray(im.convert("L"))
    assert a[:, 8:12].min() > 200 and a[:, :8].max() < 50
    boom = Image.open(io.BytesIO(gif_bytes(frames, boomerang=True, loop=False, scale=1)))
    assert boom.n_frames == 2 * n - 2 and boom.size == (7, 5) and "loop" not in boom.info
