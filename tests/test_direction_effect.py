"""Issue 27: "along a factor" directions on a beta-VAE (assets/shapes-beta) must move the factor.

The fit once put its weight on the collapsed dimensions (mean KL ~ 0: q(z_d|x) = p(z_d), which the
decoder ignores), giving a vector of length 0.04 that changed no image. Measured here two ways: by
the model (decode, re-encode, regress the factor: vae.analysis.direction_effect) and without it, on
the decoded pixels (a shape's ink grows with its scale; its centre of mass moves with x).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
BETA = REPO / "assets" / "shapes-beta"

pytestmark = pytest.mark.skipif(not (BETA / "config.json").is_file(), reason="assets/shapes-beta is not bundled")


@pytest.fixture(scope="module")
def beta_latents():
    """(model, test images (N, 1, 32, 32) uint8, mu (N, D), logvar (N, D), factors (N, 5), factor names)."""
    from vae.analysis.latent import encode_dataset
    from vae.checkpoint import load_model
    from vae.data import load_dataset

    torch.manual_seed(0)
    model = load_model(BETA, "cpu").eval()
    ds = load_dataset("shapes")
    images = ds.test.images[:3000]
    mu, logvar = encode_dataset(model, images)
    return model, images.numpy(), mu, logvar, ds.test.factors[:3000].numpy(), list(ds.factor_names)


def _ink(images: np.ndarray) -> np.ndarray:
    """Total brightness of each image (N,), in full-white pixels: grows with a shape's area."""
    return images.astype(np.float64).sum(axis=(1, 2, 3)) / 255.0


def _centre_x(images: np.ndarray) -> np.ndarray:
    """Horizontal centre of mass of each image (N,), in pixels from the left."""
    a = images.astype(np.float64)[:, 0]
    return (a.sum(1) * np.arange(a.shape[2])).sum(1) / np.maximum(a.sum((1, 2)), 1e-9)


def test_the_fit_uses_only_the_active_dimensions(beta_latents):
    from vae.analysis.directions import active_dims, factor_direction

    _, _, mu, logvar, factors, names = beta_latents
    active = active_dims(mu, logvar)
    assert 1 <= active.sum() < len(active)                      # a beta-VAE leaves some dimensions unused
    d = factor_direction(mu, factors[:, names.index("scale")], logvar)
    assert np.all(d[~active] == 0)
    assert np.linalg.norm(d) > 0.3                              # was 0.04: weight on what the decoder ignores


@pytest.mark.parametrize("factor, measure", [("scale", _ink), ("x", _centre_x)])
def test_moving_along_a_factor_direction_moves_the_factor(beta_latents, factor, measure):
    from vae.analysis.direction_effect import direction_effect
    from vae.analysis.directions import factor_direction
    from vae.analysis.latent import decode_numpy

    model, _, mu, logvar, factors, names = beta_latents
    f = factors[:, names.index(factor)]
    d = factor_direction(mu, f, logvar)
    effect = direction_effect(model, mu, logvar, f, d, n=256)
    # by the model: decode z and z + d, re-encode, regress: at least half the factor's standard deviation
    assert effect.per_unit > 0.5 * f.std(), effect
    assert effect.factor_sd == pytest.approx(f.std(), rel=1e-6)
    # without it: the decoded images themselves change the way the factor does, by a clear margin
    z = mu[:256]
    before, after = measure(decode_numpy(model, z)), measure(decode_numpy(model, z + d.astype(np.float32)))
    gain = after - before
    assert np.mean(gain > 0) > 0.8, (factor, np.mean(gain > 0))
    assert gain.mean() > 3 * gain.std() / np.sqrt(len(gain))
    # and the sign follows the strength
    back = measure(decode_numpy(model, z - d.astype(np.float32))) - before
    assert back.mean() < 0
