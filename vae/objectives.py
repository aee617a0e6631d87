"""Training objectives and the named output they return: the one-sample ELBO and Burda et al.'s
importance-weighted bound (IWAE). Chen et al.'s beta-TCVAE is in vae.objectives_tc; FactorVAE is the
ELBO here plus a discriminator's penalty that the trainer adds (vae.train.discriminator).

    IWAE_k(x) = E[ log (1/k) sum_i w_i ],   w_i = p(x|z_i) p(z_i) / q(z_i|x),   z_i ~ q(z|x) i.i.d.

IWAE_1 is the ELBO (with the KL term sampled rather than analytic); IWAE_k rises towards log p(x)
as k grows (Burda, Grosse & Salakhutdinov 2016, "Importance Weighted Autoencoders"). Trained with
it, the decoder gets a tighter bound and the encoder is free to be broader than the true posterior.

All values are nats per image, summed over pixels. `VAE.forward(x, k=K)` calls `iwae_output`, so
the bound goes through DistributedDataParallel's forward like the ELBO does. An objective takes the
model as an argument and calls its encode / reparameterize / decode_logits / log_px_given_logits:
it imports nothing of vae.model, which imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vae.densities import gaussian_kl_to_standard_normal, log_diag_normal, log_standard_normal


@dataclass
class VAEOutput:
    """What one forward pass returns. Per-image quantities are (B,) in nats."""

    loss: torch.Tensor     # scalar: mean over the batch of -(recon - beta * kl), what the optimiser minimises
    elbo: torch.Tensor     # (B,) recon - kl (always with beta = 1: the true bound on log p(x))
    recon: torch.Tensor    # (B,) single-sample estimate of E_q[log p(x|z)]
    kl: torch.Tensor       # (B,) analytic KL(q(z|x) || p(z))
    z: torch.Tensor        # (B, D) the reparameterised sample used
    mu: torch.Tensor       # (B, D)
    logvar: torch.Tensor   # (B, D)
    x_logits: torch.Tensor  # (B, C, H, W) decoder output before the mean link (sigmoid)
    iwae: torch.Tensor | None = None  # (B,) the k-sample IWAE bound, when forward was given k
    tc: torch.Tensor | None = None    # (B,) beta-TCVAE: the total correlation term (vae.objectives_tc)
    mi: torch.Tensor | None = None    # (B,) beta-TCVAE: the index-code mutual information term
    dim_kl: torch.Tensor | None = None  # (B,) beta-TCVAE: the dimension-wise KL term


def elbo_output(model, x: torch.Tensor, beta: float = 1.0, target: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> VAEOutput:
    """The one-sample ELBO of x (B, C, H, W) in [0, 1] as a VAEOutput; `loss` weights the KL by `beta`."""
    target = x if target is None else target
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu, logvar, generator)
    logits = model.decode_logits(z)
    recon = model.log_px_given_logits(target, logits)
    kl = gaussian_kl_to_standard_normal(mu, logvar)
    loss = -(recon - beta * kl).mean()
    return VAEOutput(loss=loss, elbo=recon - kl, recon=recon, kl=kl, z=z, mu=mu, logvar=logvar, x_logits=logits)


def iwae_output(model, x: torch.Tensor, k: int, beta: float = 1.0, target: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> VAEOutput:
    """The k-sample importance-weighted bound of x (B, C, H, W) in [0, 1] as a VAEOutput.

    `loss` = -mean over the batch of log (1/k) sum_i p(x|z_i) [p(z_i) / q(z_i|x)]^beta (beta = 1:
    the IWAE bound; beta < 1 during a KL warm-up tempers the prior-to-encoder ratio).
    `iwae` (B,) is the bound with beta = 1; `recon` (B,) the mean over the k samples of log p(x|z_i)
    and `kl` (B,) the analytic KL(q || p(z)), so `elbo` = recon - kl is the k-sample ELBO estimate.
    `z` and `x_logits` are those of the first sample. The noise is one (k, B, D) draw from
    `generator`: with k = 1 it is the very eps that `VAE.forward` draws for the ELBO.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    target = x if target is None else target
    mu, logvar = model.encode(x)                                                    # (B, D) each
    eps = torch.randn((k, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
    z = mu + torch.exp(0.5 * logvar) * eps                                          # (k, B, D)
    logits = model.decode_logits(z.reshape(-1, mu.shape[1]))
    logits = logits.view(k, mu.shape[0], *logits.shape[1:])                        # (k, B, C, H, W)
    log_px_z = model.log_px_given_logits(target, logits)                            # (k, B)
    log_prior_ratio = log_standard_normal(z) - log_diag_normal(z, mu, logvar)       # (k, B)
    log_k = math.log(k)
    bound = torch.logsumexp(log_px_z + log_prior_ratio, dim=0) - log_k              # (B,)
    if beta == 1.0:
        loss = -bound.mean()
    else:
        loss = -(torch.logsumexp(log_px_z + beta * log_prior_ratio, dim=0) - log_k).mean()
    recon = log_px_z.mean(dim=0)
    kl = gaussian_kl_to_standard_normal(mu, logvar)
    return VAEOutput(loss=loss, elbo=recon - kl, recon=recon, kl=kl, z=z[0], mu=mu, logvar=logvar,
                     x_logits=logits[0], iwae=bound)


def step_sums(out: VAEOutput) -> torch.Tensor:
    """(3,) sums over a batch, on the device, as losses: [-recon, kl, -iwae] (the last 0 for the ELBO)."""
    iwae_loss = -out.iwae.detach().sum() if out.iwae is not None else out.kl.new_zeros(())
    return torch.stack([-out.recon.detach().sum(), out.kl.detach().sum(), iwae_loss])
