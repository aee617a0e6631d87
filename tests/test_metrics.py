"""vae.analysis.likelihood checked against a model whose log p(x) and p(z|x) are known exactly (linear-Gaussian),
and its plumbing checked on a small real VAE."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tests.linear_gaussian import LinearGaussianVAE, gaussian_kl
from vae import VAE, ModelConfig
from vae.analysis.likelihood import MAX_ELEMENTS, active_units, elbo_terms, evaluate_model, gap_by_k, iwae_log_likelihood, kl_per_dimension, static_binarize
from vae.analysis.posterior import PosteriorGrid, posterior_grid
from vae.densities import gaussian_kl_to_standard_normal


def spoiled_linear_model(seed: int = 0, **kw) -> LinearGaussianVAE:
    """Correlated exact posterior, q the wrong mean and too wide: a clear gap, finite-variance weights."""
    model = LinearGaussianVAE(seed=seed, **kw)
    model.set_encoder_to_posterior(mean_shift=0.3, var_scale=2.0)
    return model


def q_and_posterior_kl(model: LinearGaussianVAE, x: torch.Tensor) -> torch.Tensor:
    """Closed-form KL(q(z|x) || p(z|x)), (B,)."""
    mu, logvar = (t.detach() for t in model.encode(x))
    post_mean, post_cov = model.exact_posterior(x)
    return gaussian_kl(mu, torch.diag_embed(logvar.exp()), post_mean, post_cov.expand(len(x), -1, -1))


# ---- IWAE against the exact log p(x) -------------------------------------------------------------

def test_iwae_approaches_exact_log_likelihood_as_k_grows():
    model = spoiled_linear_model()
    x = model.sample_x(128)
    log_px = model.log_px(x)
    errors = []
    for k in (1, 10, 100, 1000):
        est = iwae_log_likelihood(model, x, k, generator=torch.Generator().manual_seed(k))
        assert est.shape == (128,) and est.dtype == torch.float64
        diff = est - log_px
        se = float(diff.std() / math.sqrt(len(diff)))
        assert float(diff.mean()) <= 3 * se, f"K={k}: IWAE above log p(x) by {float(diff.mean())} (se {se})"
        errors.append(float(diff.abs().mean()))
    assert errors == sorted(errors, reverse=True), errors
    assert errors[0] > 0.1                 # the one-sample bound is visibly loose here ...
    assert errors[-1] < 0.03 * errors[0]   # ... and K = 1000 all but closes the gap


def test_elbo_plus_kl_to_exact_posterior_equals_log_likelihood():
    model = spoiled_linear_model(seed=3)
    x = model.sample_x(16)
    n = 50_000
    terms = elbo_terms(model, x, n_samples=n, generator=torch.Generator().manual_seed(0))
    kl_post = q_and_posterior_kl(model, x)
    assert torch.all(kl_post > 0.05)
    # the MC error of recon, estimated from a separate draw
    spread = elbo_terms(model, x.repeat(200, 1, 1, 1), n_samples=1,
                        generator=torch.Generator().manual_seed(1))["recon"].view(200, 16).std(0)
    se = spread.detach() / math.sqrt(n)
    err = (terms["elbo"].detach() + kl_post - model.log_px(x)).abs()
    assert torch.all(err <= 4 * se), (err, se)


def test_iwae_with_exact_posterior_is_exact_for_every_k():
    # q = p(z|x) makes every importance weight equal p(x): the estimate has zero variance
    model = LinearGaussianVAE(seed=4, diagonal_posterior=True)
    assert model.set_encoder_to_posterior()
    x = model.sample_x(8)
    for k in (1, 7):
        torch.testing.assert_close(iwae_log_likelihood(model, x, k), model.log_px(x), rtol=0, atol=1e-9)


def test_chunked_iwae_equals_unchunked_with_same_seed():
    torch.manual_seed(0)
    vae = VAE(ModelConfig(arch="mlp", image_size=8, latent_dim=4, hidden=(32,)))
    x = torch.rand(6, 1, 8, 8)
    ref = iwae_log_likelihood(vae, x, 100, generator=torch.Generator().manual_seed(5))
    for kw in (dict(chunk=1), dict(chunk=7), dict(chunk=33), dict(max_elements=6 * 64 * 3)):
        got = iwae_log_likelihood(vae, x, 100, generator=torch.Generator().manual_seed(5), **kw)
        torch.testing.assert_close(got, ref, rtol=0, atol=2e-5)
    other = iwae_log_likelihood(vae, x, 100, generator=torch.Generator().manual_seed(6))
    assert not torch.allclose(other, ref, atol=1e-4)         # the seed matters, the chunking does not
    # the linear model goes through the unbatched log_px_given_z path: same property
    lin = spoiled_linear_model()
    xl = lin.sample_x(5)
    a = iwae_log_likelihood(lin, xl, 50, generator=torch.Generator().manual_seed(2))
    b = iwae_log_likelihood(lin, xl, 50, chunk=3, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


class _NoBatchedDecoder(torch.nn.Module):
    """A VAE seen through the minimal interface only (no decode_logits / log_px_given_logits)."""

    def __init__(self, vae: VAE):
        super().__init__()
        self.vae, self.config = vae, vae.config

    def encode(self, x):
        return self.vae.encode(x)

    def log_px_given_z(self, x, z):
        return self.vae.log_px_given_z(x, z)


def test_batched_decoding_path_equals_minimal_interface():
    torch.manual_seed(1)
    vae = VAE(ModelConfig(arch="conv", image_size=28, latent_dim=3, hidden=(32,), conv_channels=(4, 8),
                          likelihood="gaussian", gaussian_sigma=0.2))
    x = torch.rand(3, 1, 28, 28)
    a = iwae_log_likelihood(vae, x, 20, generator=torch.Generator().manual_seed(0))
    b = iwae_log_likelihood(_NoBatchedDecoder(vae), x, 20, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-3)
    t1 = elbo_terms(vae, x, n_samples=4, generator=torch.Generator().manual_seed(0))
    t2 = elbo_terms(_NoBatchedDecoder(vae), x, n_samples=4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(t1["recon"], t2["recon"], rtol=1e-6, atol=1e-3)


def test_iwae_rejects_bad_arguments():
    model = spoiled_linear_model()
    x = model.sample_x(2)
    with pytest.raises(ValueError, match="positive integer"):
        iwae_log_likelihood(model, x, 0)
    with pytest.raises(ValueError, match="chunk"):
        iwae_log_likelihood(model, x, 5, chunk=0)
    with pytest.raises(ValueError, match=r"\(B, 1, 2, 3\).*\(2, 6\)"):
        iwae_log_likelihood(model, x.flatten(1), 5)


def test_gap_by_k_closes_towards_log_likelihood():
    model = spoiled_linear_model(seed=5)
    x = model.sample_x(64)
    rows = gap_by_k(model, x, ks=(1, 10, 100, 1000))
    assert [r["k"] for r in rows] == [1, 10, 100, 1000]
    assert all(set(r) == {"k", "iwae", "se", "gap"} for r in rows)
    truth = float(model.log_px(x).mean())
    errs = [truth - r["iwae"] for r in rows]
    assert errs[0] > 0.1 and abs(errs[-1]) < 0.05 * errs[0]
    assert rows[-1]["gap"] > rows[0]["gap"]
    # the gap at large K estimates the mean KL(q || p(z|x))
    kl_post = float(q_and_posterior_kl(model, x).mean())
    assert abs(rows[-1]["gap"] - kl_post) < 0.1 * kl_post + 3 * rows[-1]["se"]


# ---- the posterior on a grid -------------------------------------------------------------------------

def exact_posterior_log_density(model, x, grid: PosteriorGrid) -> torch.Tensor:
    mean, cov = model.exact_posterior(x)
    zz2, zz1 = torch.meshgrid(grid.z2, grid.z1, indexing="ij")
    z = torch.stack([zz1, zz2], -1)
    return torch.distributions.MultivariateNormal(mean[0], cov).log_prob(z)


@pytest.mark.parametrize("sigma", [0.5, 0.03])   # 0.03: a sharp posterior that needs the zoom
def test_posterior_grid_matches_exact_posterior(sigma):
    model = spoiled_linear_model(seed=6, sigma=sigma)
    x = model.sample_x(1)
    grid = posterior_grid(model, x, grid_size=151)
    assert grid.z1.shape == grid.z2.shape == (151,)
    for name in ("log_likelihood", "log_joint", "log_posterior", "log_q"):
        assert getattr(grid, name).shape == (151, 151)
    exact_log_px = float(model.log_px(x)[0])
    assert abs(grid.log_px - exact_log_px) <= 1e-3 * abs(exact_log_px)
    exact = exact_posterior_log_density(model, x, grid).exp()
    density = grid.log_posterior.exp()
    assert float((density - exact).abs().max()) < 1e-3 * float(exact.max())
    assert abs(float((density.sum() * grid.cell_area)) - 1.0) < 1e-9          # normalised on the grid
    mean, cov = model.exact_posterior(x)
    torch.testing.assert_close(grid.posterior_mean, mean[0], rtol=0, atol=1e-3 * float(cov.diag().sqrt().min()))
    torch.testing.assert_close(grid.posterior_cov, cov, rtol=1e-3, atol=1e-6)
    # KL(q || p(z|x)) on the grid against the closed form, and the identity log p(x) = ELBO + KL
    kl_exact = float(q_and_posterior_kl(model, x)[0])
    assert kl_exact > 0.05
    assert abs(grid.kl_q_to_posterior - kl_exact) < 1e-3 * kl_exact
    assert abs(grid.log_px - grid.elbo_grid - grid.kl_q_to_posterior) < 1e-9
    assert abs(grid.elbo + grid.kl_q_to_posterior - exact_log_px) < 1e-3 * abs(exact_log_px)
    torch.testing.assert_close(grid.q_mu, model.encode(x)[0][0].detach())
    with torch.no_grad():
        assert grid.kl == pytest.approx(float(gaussian_kl_to_standard_normal(*model.encode(x))[0]))


def test_posterior_grid_fixed_extent_and_zoom():
    model = spoiled_linear_model(seed=6, sigma=0.03)
    x = model.sample_x(1)
    zoomed = posterior_grid(model, x, grid_size=101)
    fixed = posterior_grid(model, x, grid_size=101, extent=4.0)
    assert fixed.extent == ((-4.0, 4.0), (-4.0, 4.0))
    assert float(fixed.z1[0]) == -4.0 and float(fixed.z2[-1]) == 4.0
    exact_log_px = float(model.log_px(x)[0])
    # the zoomed grid is narrower and more accurate than the prior-sized one
    assert zoomed.extent[0][1] - zoomed.extent[0][0] < 4.0
    assert abs(zoomed.log_px - exact_log_px) < abs(fixed.log_px - exact_log_px) + 1e-9
    assert abs(zoomed.log_px - exact_log_px) < 1e-3 * abs(exact_log_px)
    per_axis = posterior_grid(model, x, grid_size=11, extent=((-1, 2), (0, 3)), refine=False)
    assert per_axis.extent == ((-1.0, 2.0), (0.0, 3.0))


def test_posterior_grid_on_a_real_vae_agrees_with_iwae():
    torch.manual_seed(2)
    vae = VAE(ModelConfig(arch="mlp", image_size=8, latent_dim=2, hidden=(32,)))
    x = torch.rand(1, 1, 8, 8)
    grid = posterior_grid(vae, x, grid_size=201)
    est = iwae_log_likelihood(vae, x, 20000, generator=torch.Generator().manual_seed(0))
    assert abs(grid.log_px - float(est[0])) < 0.02
    assert grid.kl_q_to_posterior >= 0
    assert abs(grid.elbo - grid.elbo_grid) < 1e-2         # analytic KL vs KL on the grid


def test_posterior_grid_refuses_bad_input():
    vae3 = VAE(ModelConfig(arch="mlp", image_size=8, latent_dim=3, hidden=(8,)))
    with pytest.raises(ValueError, match="2-d latents"):
        posterior_grid(vae3, torch.rand(1, 1, 8, 8))
    vae2 = VAE(ModelConfig(arch="mlp", image_size=8, latent_dim=2, hidden=(8,)))
    with pytest.raises(ValueError, match="ONE image"):
        posterior_grid(vae2, torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="extent"):
        posterior_grid(vae2, torch.rand(1, 1, 8, 8), extent=(3, -3))
    with pytest.raises(ValueError, match="grid_size"):
        posterior_grid(vae2, torch.rand(1, 1, 8, 8), grid_size=1)
    grid = posterior_grid(vae2, torch.rand(1, 8, 8), grid_size=5, extent=2)       # (C, H, W) accepted
    assert grid.log_joint.shape == (5, 5)


# ---- latent statistics ---------------------------------------------------------------------------------

def test_active_units_on_synthetic_means():
    g = torch.Generator().manual_seed(0)
    n = 4000
    mu = torch.randn(n, 5, generator=g) * torch.tensor([1.0, 0.0, 0.5, 0.03, 0.3])
    mu[:, 1] = 2.5                                                # constant: inactive however large
    count, variances = active_units(None, mu)
    assert count == 3                                             # dims 0, 2, 4 (var 1, .25, .09)
    assert variances.shape == (5,)
    torch.testing.assert_close(variances, torch.tensor([1.0, 0.0, 0.25, 0.0009, 0.09]), rtol=0.1, atol=1e-4)
    assert active_units(None, mu, threshold=0.5)[0] == 1
    with pytest.raises(ValueError, match="at least 2"):
        active_units(None, mu[:1])


def test_active_units_from_images_with_a_dead_encoder_dimension():
    model = spoiled_linear_model()
    with torch.no_grad():
        model.A[1].zero_()                                        # E_q[z_2 | x] no longer depends on x
    count, variances = active_units(model, model.sample_x(500))
    assert count == 1 and float(variances[1]) == 0.0 and float(variances[0]) > 0.01


def test_kl_per_dimension_sums_to_total_kl():
    mu, logvar = torch.randn(50, 6, dtype=torch.float64), torch.randn(50, 6, dtype=torch.float64)
    per_dim = kl_per_dimension(mu, logvar)
    assert per_dim.shape == (6,) and torch.all(per_dim >= 0)
    torch.testing.assert_close(per_dim.sum(), gaussian_kl_to_standard_normal(mu, logvar).mean())
    assert float(kl_per_dimension(torch.zeros(3, 2), torch.zeros(3, 2)).abs().max()) == 0.0
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        kl_per_dimension(mu, logvar[:, :3])


# ---- evaluate_model ---------------------------------------------------------------------------------------

EVAL_KEYS = {"elbo", "recon", "kl", "iwae", "gap", "k", "n", "elbo_se", "iwae_se", "gap_se", "active_units",
             "au_variances", "kl_per_dim", "device", "seconds", "binarize", "seed"}


@pytest.fixture(scope="module")
def small_vae_and_images():
    torch.manual_seed(0)
    vae = VAE(ModelConfig(arch="mlp", image_size=8, latent_dim=4, hidden=(32,)))
    images = torch.randint(0, 256, (70, 1, 8, 8), dtype=torch.uint8)
    return vae, images


def test_evaluate_model_output(small_vae_and_images):
    vae, images = small_vae_and_images
    calls = []
    r = evaluate_model(vae, images, iwae_samples=30, batch_size=32, progress=lambda d, t: calls.append((d, t)))
    assert set(r) == EVAL_KEYS
    json.dumps(r, allow_nan=False)                                # plain floats, ints, lists, None
    assert calls == [(32, 70), (64, 70), (70, 70)]
    assert r["n"] == 70 and r["k"] == 30 and r["device"] == "cpu" and r["binarize"] == "none"
    assert r["elbo"] == pytest.approx(r["recon"] - r["kl"])
    assert r["gap"] == pytest.approx(r["iwae"] - r["elbo"])
    assert r["gap"] > -3 * r["gap_se"]                            # IWAE bound >= ELBO, up to noise
    assert r["elbo_se"] > 0 and r["iwae_se"] > 0
    assert len(r["au_variances"]) == len(r["kl_per_dim"]) == 4
    assert sum(r["kl_per_dim"]) == pytest.approx(r["kl"], rel=1e-6)
    assert r["active_units"] == sum(v > 0.01 for v in r["au_variances"])
    # reproducible for a seed; no IWAE when not asked
    assert evaluate_model(vae, images, iwae_samples=30, batch_size=32)["iwae"] == r["iwae"]
    plain = evaluate_model(vae, images)
    assert plain["iwae"] is plain["gap"] is plain["iwae_se"] is None and plain["k"] == 0
    json.dumps(plain, allow_nan=False)
    assert plain["kl"] == pytest.approx(r["kl"])                  # the analytic KL does not depend on samples


def test_evaluate_model_static_binarisation(small_vae_and_images):
    vae, images = small_vae_and_images
    a = evaluate_model(vae, images, binarize="static", seed=1)
    b = evaluate_model(vae, images, binarize="static", seed=1, batch_size=7)
    c = evaluate_model(vae, images, binarize="none", seed=1)
    assert a["kl"] == pytest.approx(b["kl"], rel=1e-6)             # the same draw whatever the batch size
    assert a["kl"] != pytest.approx(c["kl"], rel=1e-6)
    bits = static_binarize(images, seed=1)
    assert bits.dtype == torch.uint8 and set(bits.unique().tolist()) <= {0, 1}
    assert torch.equal(bits, static_binarize(images, seed=1))
    assert not torch.equal(bits, static_binarize(images, seed=2))
    ones = static_binarize(torch.full((400, 1, 8, 8), 64, dtype=torch.uint8)).float().mean()
    assert abs(float(ones) - 64 / 255) < 0.01


def test_evaluate_model_matches_exact_log_likelihood_on_linear_gaussian():
    model = spoiled_linear_model(seed=7)
    images = torch.randint(0, 256, (40, 1, 2, 3), dtype=torch.uint8)
    r = evaluate_model(model, images, iwae_samples=2000, batch_size=16, device="cpu")
    x = images.double() / 255
    truth = float(model.log_px(x).mean())
    assert abs(r["iwae"] - truth) < 0.03          # K = 2000 on 40 images: MC error ~ 0.005 nats
    kl_post = float(q_and_posterior_kl(model, x).mean())
    assert abs(r["gap"] - kl_post) < 0.05 * kl_post + 0.01
    assert r["elbo"] < truth


def test_evaluate_model_rejects_bad_input(small_vae_and_images):
    vae, images = small_vae_and_images
    with pytest.raises(TypeError, match="uint8"):
        evaluate_model(vae, images.float() / 255)
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\).*\(70, 1, 7, 7\)"):
        evaluate_model(vae, images[..., :7, :7])
    with pytest.raises(ValueError, match="binarize"):
        evaluate_model(vae, images, binarize="sometimes")
    with pytest.raises(ValueError, match="no images"):
        evaluate_model(vae, images[:0])
    with pytest.raises(ValueError, match="iwae_samples"):
        evaluate_model(vae, images, iwae_samples=-1)


def test_default_memory_budget_is_bounded():
    # the default chunking keeps decoder output to at most MAX_ELEMENTS pixel-floats
    from vae.analysis.likelihood import _plan
    for b, pixels, k in ((256, 784, 1000), (64, 3 * 64 * 64, 5000), (100_000, 784, 10)):
        images, chunk = _plan(b, pixels, k, None, MAX_ELEMENTS)
        assert images * chunk * pixels <= MAX_ELEMENTS and images >= 1 and chunk >= 1
