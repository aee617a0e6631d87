"""A linear-Gaussian VAE (probabilistic PCA) whose log p(x) and p(z|x) are known in closed form.

    p(z) = N(0, I_D),   p(x|z) = N(W z + b, s^2 I_P),   so   x ~ N(b, W W^T + s^2 I)
    p(z|x) = N(m(x), S),  S = (I + W^T W / s^2)^-1,  m(x) = S W^T (x - b) / s^2
    q(z|x) = N(A x + c, diag exp(logvar))  (a linear encoder with an x-independent variance)

Images are tiny, (1, 2, 3) = 6 pixels by default, flattened row-major. Everything is float64 so
tests can be tight. The model exposes what vae.analysis.likelihood needs (encode, log_px_given_z,
config.latent_dim, config.image_shape) but NOT decode_logits, so it also exercises the metrics'
unbatched fallback path.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
import torch.nn as nn

LOG_2PI = math.log(2 * math.pi)


class LinearGaussianVAE(nn.Module):
    def __init__(self, image_shape=(1, 2, 3), latent_dim: int = 2, sigma: float = 0.5, seed: int = 0,
                 diagonal_posterior: bool = False, weight_scale: float = 1.0):
        """diagonal_posterior=True builds W with orthogonal columns, so S is diagonal and the
        diagonal-Gaussian encoder can equal the exact posterior."""
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        p = math.prod(image_shape)
        if latent_dim > p:
            raise ValueError(f"latent_dim {latent_dim} exceeds the {p} pixels")
        self.config = SimpleNamespace(latent_dim=latent_dim, image_shape=tuple(image_shape))
        w = torch.randn(p, latent_dim, generator=g, dtype=torch.float64) * weight_scale
        if diagonal_posterior:
            u, _ = torch.linalg.qr(w)                                     # orthonormal columns (P, D)
            w = u * torch.linspace(1.0, 2.0, latent_dim, dtype=torch.float64) * weight_scale
        self.W = nn.Parameter(w)                                          # (P, D)
        self.b = nn.Parameter(0.3 * torch.randn(p, generator=g, dtype=torch.float64))
        self.log_s = nn.Parameter(torch.tensor(math.log(sigma), dtype=torch.float64), requires_grad=False)
        self.A = nn.Parameter(0.1 * torch.randn(latent_dim, p, generator=g, dtype=torch.float64))
        self.c = nn.Parameter(torch.zeros(latent_dim, dtype=torch.float64))
        self.logvar = nn.Parameter(torch.zeros(latent_dim, dtype=torch.float64))

    # ---- the VAE interface used by vae.analysis.likelihood ----
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, *image_shape) -> (mu, logvar), each (B, D)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.config.image_shape:
            raise ValueError(f"expected (B, {self.config.image_shape}), got {tuple(x.shape)}")
        mu = x.flatten(1) @ self.A.T + self.c
        return mu, self.logvar.expand_as(mu)

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log N(x; W z + b, s^2 I): x (B, C, H, W), z (B, D) -> (B,), nats."""
        mean = z @ self.W.T + self.b
        s2 = torch.exp(2 * self.log_s)
        return -0.5 * ((x.flatten(1) - mean).pow(2) / s2 + 2 * self.log_s + LOG_2PI).sum(-1)

    # ---- exact answers ----
    def marginal(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean (P,), covariance (P, P)) of x."""
        p = self.W.shape[0]
        return self.b, self.W @ self.W.T + torch.exp(2 * self.log_s) * torch.eye(p, dtype=self.W.dtype)

    @torch.no_grad()
    def log_px(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x), (B,) nats."""
        mean, cov = self.marginal()
        return torch.distributions.MultivariateNormal(mean, cov).log_prob(x.flatten(1).to(mean.dtype))

    @torch.no_grad()
    def exact_posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """p(z|x) = N(mean (B, D), cov (D, D)); the covariance is the same for every x."""
        s2 = torch.exp(2 * self.log_s)
        d = self.W.shape[1]
        cov = torch.linalg.inv(torch.eye(d, dtype=self.W.dtype) + self.W.T @ self.W / s2)
        mean = (x.flatten(1).to(self.W.dtype) - self.b) @ (cov @ self.W.T / s2).T
        return mean, cov

    @torch.no_grad()
    def set_encoder_to_posterior(self, mean_shift: float = 0.0, var_scale: float = 1.0) -> bool:
        """Make q the best diagonal Gaussian: the exact posterior mean and variances 1 / diag(S^-1)
        (the mean-field optimum of KL(q || p(z|x))). Returns True when S is diagonal, i.e. q now
        equals p(z|x) exactly. mean_shift (added to c) and var_scale (multiplies the variances)
        spoil it on purpose, for tests that need a gap."""
        s2 = torch.exp(2 * self.log_s)
        d = self.W.shape[1]
        precision = torch.eye(d, dtype=self.W.dtype) + self.W.T @ self.W / s2
        cov = torch.linalg.inv(precision)
        gain = cov @ self.W.T / s2                                         # (D, P)
        self.A.copy_(gain)
        self.c.copy_(-gain @ self.b + mean_shift)
        self.logvar.copy_(-torch.log(torch.diagonal(precision)) + math.log(var_scale))
        off = cov - torch.diag(torch.diagonal(cov))
        return bool(off.abs().max() < 1e-12 * cov.abs().max())

    @torch.no_grad()
    def sample_x(self, n: int, seed: int = 1) -> torch.Tensor:
        """n images from the model's own p(x), (n, *image_shape) float64."""
        g = torch.Generator().manual_seed(seed)
        mean, cov = self.marginal()
        chol = torch.linalg.cholesky(cov)
        x = mean + torch.randn(n, len(mean), generator=g, dtype=mean.dtype) @ chol.T
        return x.view(n, *self.config.image_shape)


def gaussian_kl(mu0: torch.Tensor, cov0: torch.Tensor, mu1: torch.Tensor, cov1: torch.Tensor) -> torch.Tensor:
    """Closed-form KL(N(mu0, cov0) || N(mu1, cov1)) in nats; mu (..., D), cov (..., D, D) -> (...)."""
    d = mu0.shape[-1]
    inv1 = torch.linalg.inv(cov1)
    diff = (mu1 - mu0).unsqueeze(-1)
    trace = torch.diagonal(inv1 @ cov0, dim1=-2, dim2=-1).sum(-1)
    maha = (diff.transpose(-1, -2) @ inv1 @ diff)[..., 0, 0]
    return 0.5 * (trace + maha - d + torch.logdet(cov1) - torch.logdet(cov0))
