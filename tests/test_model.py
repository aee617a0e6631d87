"""The model's mathematics and shapes: KL, reparameterisation, likelihoods, ELBO <= log p(x)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tests.linear_gaussian import LinearGaussianVAE
from vae import VAE, ConfigError, ModelConfig
from vae.analysis.likelihood import elbo_terms
from vae.densities import gaussian_kl_to_standard_normal, log_diag_normal, log_standard_normal


def small_config(**kw) -> ModelConfig:
    base = dict(arch="mlp", channels=1, image_size=8, latent_dim=3, hidden=(16,))
    base.update(kw)
    return ModelConfig(**base)


# ---- KL and densities --------------------------------------------------------------------------

def test_analytic_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.0, 0.0, 0.0], [1.5, -0.7, 0.2], [-2.0, 0.3, 3.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, 0.0, 0.0], [-1.0, 0.5, -2.0], [1.0, -0.3, 0.0]], dtype=torch.float64)
    n = 200_000
    eps = torch.randn(n, *mu.shape, generator=g, dtype=torch.float64)
    z = mu + torch.exp(0.5 * logvar) * eps                                # (n, B, D)
    log_ratio = log_diag_normal(z, mu, logvar) - log_standard_normal(z)   # (n, B)
    mc, se = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n)
    kl = gaussian_kl_to_standard_normal(mu, logvar)
    assert kl[0] == 0.0                                                    # q = prior
    assert torch.all((mc - kl).abs() <= 4 * se + 1e-12), (mc, kl, se)
    assert torch.all(kl[1:] > 0.5)


def test_log_densities_match_torch_distributions():
    z = torch.randn(5, 4, dtype=torch.float64)
    mu, logvar = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    normal = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    torch.testing.assert_close(log_diag_normal(z, mu, logvar), normal.log_prob(z).sum(-1))
    std = torch.distributions.Normal(torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(log_standard_normal(z), std.log_prob(z).sum(-1))


# ---- reparameterisation -------------------------------------------------------------------------

def test_gradients_reach_encoder_through_reparameterisation():
    torch.manual_seed(0)
    model = VAE(small_config())
    x = torch.rand(6, 1, 8, 8)
    out = model(x, generator=torch.Generator().manual_seed(1))
    out.recon.sum().backward()                 # reconstruction alone: no KL path to the encoder
    grads = [p.grad for p in model.encoder.parameters()]
    assert all(g is not None for g in grads)
    assert all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    # and the logvar half of the last encoder layer gets gradient only through sigma * eps
    last = model.encoder.net[-1].weight.grad                   # (2D, hidden)
    assert last[model.config.latent_dim:].abs().sum() > 0


def test_reparameterize_is_seeded_and_has_right_moments():
    mu = torch.full((20000, 2), 1.5)
    logvar = torch.log(torch.full((20000, 2), 0.25))
    z1 = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(3))
    z2 = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(3))
    assert torch.equal(z1, z2)
    assert abs(float(z1.mean()) - 1.5) < 0.02
    assert abs(float(z1.std()) - 0.5) < 0.02


# ---- ELBO <= log p(x), with equality at the exact posterior --------------------------------------

def test_elbo_below_exact_log_likelihood_on_linear_gaussian():
    model = LinearGaussianVAE(seed=1)             # random encoder: a loose bound
    x = model.sample_x(32)
    terms = elbo_terms(model, x, n_samples=4000, generator=torch.Generator().manual_seed(0))
    log_px = model.log_px(x)
    assert set(terms) == {"recon", "kl", "elbo", "nats"}
    assert all(t.shape == (32,) for t in terms.values())
    torch.testing.assert_close(terms["elbo"], terms["recon"] - terms["kl"])
    torch.testing.assert_close(terms["nats"], -terms["elbo"])
    assert torch.all(terms["elbo"].detach() < log_px)
    assert float((log_px - terms["elbo"].detach()).mean()) > 0.05   # the bound is really loose here


def test_elbo_equals_log_likelihood_when_q_is_exact_posterior():
    model = LinearGaussianVAE(seed=2, diagonal_posterior=True)
    assert model.set_encoder_to_posterior() is True
    x = model.sample_x(16)
    n = 20000
    terms = elbo_terms(model, x, n_samples=n, generator=torch.Generator().manual_seed(0))
    log_px = model.log_px(x)
    # recon is an MC mean; its std error from the spread of log p(x|z) under q
    mu, logvar = model.encode(x)
    eps = torch.randn(2000, *mu.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    z = mu + torch.exp(0.5 * logvar) * eps
    spread = torch.stack([model.log_px_given_z(x, zk) for zk in z]).std(0).detach()
    se = spread / math.sqrt(n)
    err = (terms["elbo"].detach() - log_px).abs()
    assert torch.all(err <= 4 * se + 1e-9), (err, se)


# ---- shapes and errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("arch,size,channels", [
    ("mlp", 8, 1), ("mlp", 28, 1), ("mlp", 20, 3),
    ("conv", 28, 1), ("conv", 32, 1), ("conv", 64, 1), ("conv", 28, 3), ("conv", 32, 3), ("conv", 64, 3),
])
def test_forward_shapes(arch, size, channels):
    torch.manual_seed(0)
    cfg = ModelConfig(arch=arch, channels=channels, image_size=size, latent_dim=4, hidden=(32,),
                      conv_channels=(8, 16) if arch == "conv" else (32, 64))
    model = VAE(cfg)
    x = torch.rand(3, channels, size, size)
    out = model(x)
    assert out.loss.shape == ()
    for name in ("elbo", "recon", "kl"):
        assert getattr(out, name).shape == (3,)
    assert out.z.shape == out.mu.shape == out.logvar.shape == (3, 4)
    assert out.x_logits.shape == x.shape
    assert model.decode(out.z).shape == x.shape
    assert torch.isfinite(out.loss)
    assert torch.all(out.kl >= 0)
    assert torch.all(out.recon <= 0)               # Bernoulli log-probabilities of x in [0, 1]
    assert model.sample(2).shape == (2, channels, size, size)


@pytest.mark.parametrize("size", [16, 30, 48, 100])
def test_conv_refuses_other_sizes_with_clear_message(size):
    with pytest.raises(ConfigError) as e:
        ModelConfig(arch="conv", image_size=size)
    msg = str(e.value)
    assert f"{size}x{size}" in msg and "28x28" in msg and "mlp" in msg


def test_wrong_input_shapes_raise_clear_errors():
    model = VAE(small_config())
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\).*\(4, 64\)"):
        model.encode(torch.rand(4, 64))
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\)"):
        model.encode(torch.rand(4, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(B, 3\).*\(4, 2\)"):
        model.decode_logits(torch.rand(4, 2))
    with pytest.raises(ValueError, match="latent"):
        model.decode(torch.rand(3))
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\)"):
        elbo_terms(model, torch.rand(2, 1, 7, 7))
    with pytest.raises(ValueError, match="n_samples"):
        elbo_terms(model, torch.rand(2, 1, 8, 8), n_samples=0)


# ---- likelihoods ------------------------------------------------------------------------------------

def test_bernoulli_log_likelihood_matches_hand_computation():
    model = VAE(small_config(likelihood="bernoulli"))
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    logits = 3 * torch.randn(4, 1, 8, 8, dtype=torch.float64)
    p = torch.sigmoid(logits)
    hand = (x * torch.log(p) + (1 - x) * torch.log1p(-p)).flatten(1).sum(1)
    torch.testing.assert_close(model.log_px_given_logits(x, logits), hand)
    # binary pixels: exactly the log-probability of the observed bits
    xb = (x > 0.5).double()
    bits = torch.where(xb == 1, p, 1 - p).log().flatten(1).sum(1)
    torch.testing.assert_close(model.log_px_given_logits(xb, logits), bits)
    # log_px_given_z = log_px_given_logits(decode_logits(z)); and logits broadcast over a leading K
    z = torch.randn(4, 3)
    xf = x.float()
    torch.testing.assert_close(model.log_px_given_z(xf, z), model.log_px_given_logits(xf, model.decode_logits(z)))
    many = torch.stack([logits.float(), logits.float() + 1])                   # (2, 4, 1, 8, 8)
    lp = model.log_px_given_logits(xf, many)
    assert lp.shape == (2, 4)
    torch.testing.assert_close(lp[1], model.log_px_given_logits(xf, logits.float() + 1))


def test_gaussian_fixed_sigma_log_likelihood():
    model = VAE(small_config(likelihood="gaussian", gaussian_sigma=0.1))
    assert model.log_sigma is None
    x = torch.rand(3, 1, 8, 8)
    logits = torch.randn(3, 1, 8, 8)
    mean = torch.sigmoid(logits)
    hand = torch.distributions.Normal(mean, 0.1).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(model.log_px_given_logits(x, logits), hand)
    # the peak density is 64 * log(1 / (0.1 sqrt(2 pi))) nats, reached at x = mean
    peak = 64 * -(math.log(0.1) + 0.5 * math.log(2 * math.pi))
    assert abs(float(model.log_px_given_logits(mean, logits)[0]) - peak) < 1e-3


def test_gaussian_learned_sigma_is_a_trained_parameter():
    model = VAE(small_config(likelihood="gaussian", gaussian_sigma=None))
    assert isinstance(model.log_sigma, torch.nn.Parameter)
    assert any(p is model.log_sigma for p in model.parameters())
    with torch.no_grad():
        model.log_sigma.fill_(math.log(0.3))
    assert abs(float(model.sigma().detach()) - 0.3) < 1e-6
    x = torch.rand(3, 1, 8, 8)
    logits = torch.randn(3, 1, 8, 8)
    hand = torch.distributions.Normal(torch.sigmoid(logits), 0.3).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(model.log_px_given_logits(x, logits), hand)
    out = model(x)
    out.loss.backward()
    assert model.log_sigma.grad is not None and float(model.log_sigma.grad) != 0.0
    # the maximum-likelihood sigma for fixed residuals r is rms(r): the gradient there vanishes
    with torch.no_grad():
        model.log_sigma.fill_(0.5 * math.log(float(((x - torch.sigmoid(logits)) ** 2).mean())))
    sigma_param = model.log_sigma
    sigma_param.grad = None
    (-model.log_px_given_logits(x, logits).sum()).backward()
    assert abs(float(sigma_param.grad)) < 1e-3


def test_config_rejects_bad_fields():
    with pytest.raises(ConfigError, match="latent_dim"):
        ModelConfig(latent_dim=1)
    with pytest.raises(ConfigError, match="likelihood"):
        ModelConfig(likelihood="poisson")
    with pytest.raises(ConfigError, match="gaussian_sigma"):
        ModelConfig(likelihood="gaussian", gaussian_sigma=-1.0)
    with pytest.raises(ConfigError, match="channels"):
        ModelConfig(channels=2)


def test_binary_cross_entropy_is_what_training_minimises():
    model = VAE(small_config())
    x = torch.rand(5, 1, 8, 8)
    out = model(x, beta=1.0, generator=torch.Generator().manual_seed(0))
    bce = F.binary_cross_entropy_with_logits(out.x_logits, x, reduction="none").flatten(1).sum(1)
    torch.testing.assert_close(out.recon, -bce)
    torch.testing.assert_close(out.loss, (bce + out.kl).mean())
    out2 = model(x, beta=0.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out2.loss, bce.mean())
    torch.testing.assert_close(out2.elbo, out.elbo)                 # elbo always uses beta = 1


def test_conv_decoder_gives_the_same_logits_in_either_memory_layout(monkeypatch):
    """On a CPU the transposed convs run channels-last (faster); the numbers must not change."""
    from vae.model import ConvDecoder

    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="conv", latent_dim=8, hidden=(64,), conv_channels=(16, 32))).eval()
    z = torch.randn(16, 8)
    fast = model.decoder(z)
    monkeypatch.setattr(ConvDecoder, "cpu_channels_last", False)
    plain = model.decoder(z)
    assert fast.is_contiguous() and fast.shape == (16, 1, 28, 28)
    assert torch.allclose(fast, plain, atol=1e-5)


def test_tanh_activation_is_built_recorded_and_validated(tmp_path):
    from vae import load_model, save_model

    cfg = ModelConfig(latent_dim=4, hidden=(32, 16), image_size=8, activation="tanh")
    model = VAE(cfg)
    kinds = {type(m).__name__ for m in [*model.encoder.modules(), *model.decoder.modules()]}
    assert "Tanh" in kinds and "ReLU" not in kinds
    save_model(model, tmp_path / "run")
    assert load_model(tmp_path / "run").config.activation == "tanh"
    assert ModelConfig.from_dict({k: v for k, v in cfg.to_dict().items() if k != "activation"}).activation == "relu"
    with pytest.raises(ConfigError, match="activation"):
        ModelConfig(activation="gelu")
