"""The ELBO and the IWAE bound of a batch of images, nats per image (summed over pixels).

`elbo_terms` gives the ELBO and its two terms (differentiable, for training); `iwae_log_likelihood`
the importance-weighted estimate of log p(x) (Burda et al. 2016), decoded in chunks that keep at
most `max_elements` pixel-floats of decoder output in flight. `_iwae_and_recon` is the batched
core shared with the whole-dataset evaluation and the ranking.
"""

from __future__ import annotations

import math

import torch

from vae.analysis.likelihood_helpers import (
    MAX_ELEMENTS,
    _as_model_input,
    _log_px_many,
    _NoiseStream,
    _pixels,
    _randn,
)
from vae.densities import LOG_2PI, gaussian_kl_to_standard_normal, log_standard_normal


def elbo_terms(model, x: torch.Tensor, n_samples: int = 1,
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The ELBO of each image and its two terms, (B,) each, nats per image.

        recon  E_q[log p(x|z)], a Monte Carlo mean over `n_samples` reparameterised draws z ~ q(z|x)
        kl     KL(q(z|x) || p(z)), analytic
        elbo   recon - kl  (<= log p(x))
        nats   -elbo, the bound on -log p(x) that training minimises

    Differentiable (no inference_mode here): gradients flow to the encoder through z = mu + sigma eps.
    x: float (B, C, H, W) in [0, 1] (or uint8), moved to the model's device.
    """
    if not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    x = _as_model_input(model, x)
    mu, logvar = model.encode(x)                                        # (B, D) each
    eps = _randn((n_samples, *mu.shape), generator, mu.device, mu.dtype)  # (S, B, D)
    z = mu + torch.exp(0.5 * logvar) * eps
    recon = _log_px_many(model, x, z).mean(0)                            # (B,)
    kl = gaussian_kl_to_standard_normal(mu, logvar)
    elbo = recon - kl
    return {"recon": recon, "kl": kl, "elbo": elbo, "nats": -elbo}


def _iwae_batch(model, x: torch.Tensor, k: int, chunk: int, generator) -> tuple[torch.Tensor, ...]:
    """IWAE estimate and the K-sample mean of log p(x|z) for one batch that fits the budget.

    x (B, C, H, W) on the model's device -> (log_px (B,), recon (B,), mu (B, D), logvar (B, D)).
    """
    mu, logvar = model.encode(x)
    std = torch.exp(0.5 * logvar)
    noise = _NoiseStream(k, tuple(mu.shape), generator, mu.device, mu.dtype)
    acc = torch.float32 if mu.device.type == "mps" else torch.float64      # MPS has no float64
    log_w_chunks, recon_sum = [], torch.zeros(mu.shape[0], device=mu.device, dtype=acc)
    done = 0
    while done < k:
        c = min(chunk, k - done)
        eps = noise.take(c)                                            # (c, B, D)
        z = mu + std * eps
        log_lik = _log_px_many(model, x, z)                            # (c, B)
        # log q(z|x) from eps directly: exact, and cheaper than log_diag_normal(z, mu, logvar)
        log_q = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)        # (c, B)
        log_w_chunks.append(log_lik + log_standard_normal(z) - log_q)
        recon_sum += log_lik.to(acc).sum(0)
        done += c
    log_w = torch.cat(log_w_chunks)                                     # (K, B)
    log_px = torch.logsumexp(log_w.to(acc), dim=0) - math.log(k)
    return log_px.to(mu.dtype), (recon_sum / k).to(mu.dtype), mu, logvar


def _plan(b: int, pixels: int, k: int, chunk: int | None, max_elements: int) -> tuple[int, int]:
    """(images per pass, samples per chunk) keeping images * samples * pixels <= max_elements."""
    if not isinstance(max_elements, int) or max_elements < 1:
        raise ValueError(f"max_elements must be a positive integer, got {max_elements!r}")
    if chunk is not None:
        if not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk must be a positive integer or None, got {chunk!r}")
        return b, chunk
    images = max(1, min(b, max_elements // pixels))
    return images, max(1, min(k, max_elements // (images * pixels)))


def _iwae_and_recon(model, x, k, chunk, max_elements, generator):
    """Run `_iwae_batch` over sub-batches of x; returns (log_px, recon, mu, logvar) for all of x."""
    images, chunk = _plan(x.shape[0], _pixels(x), k, chunk, max_elements)
    outs = [_iwae_batch(model, x[i:i + images], k, chunk, generator) for i in range(0, x.shape[0], images)]
    return tuple(torch.cat(parts) for parts in zip(*outs))


def iwae_log_likelihood(model, x: torch.Tensor, k: int, *, chunk: int | None = None,
                        max_elements: int = MAX_ELEMENTS,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Importance-weighted estimate of log p(x), (B,) nats per image (Burda et al. 2016):

        log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x),   z_k ~ q(z|x)

    computed with logsumexp (float64 accumulation). A lower bound in expectation that rises to
    log p(x) as K grows; K = 1 is a one-sample ELBO. Runs under inference_mode on the model's
    device; K is processed in chunks so that at most `max_elements` pixel-floats of decoder
    output exist at once (chunk = samples per chunk; None = as many as fit). The noise does not
    depend on `chunk`: the same generator state gives the same estimate for any chunk size.

    x: (B, C, H, W) float in [0, 1] or uint8. Returns a tensor on x's device, the model's dtype.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k (importance samples) must be a positive integer, got {k!r}")
    out_device = x.device if isinstance(x, torch.Tensor) else None
    with torch.inference_mode():
        xm = _as_model_input(model, x)
        log_px = _iwae_and_recon(model, xm, k, chunk, max_elements, generator)[0]
    return log_px.to(out_device).clone()  # clone outside inference_mode: an ordinary tensor
