"""How broad q(z|x) is beside the true posterior p(z|x), for models with 2-d latents.

An IWAE-trained encoder is not asked to fit the posterior tightly: the k-sample bound rewards a q
that covers p(z|x) (its importance weights fix the rest), so q comes out broader than the posterior,
the ELBO gap KL(q || p(z|x)) larger, and log p(x) higher (Burda et al. 2016, section 5.2; Cremer et
al. 2017). `posterior_width` measures that for one image, `posterior_width_summary` averages it
over a batch. Everything comes from `vae.analysis.posterior.posterior_grid` (quadrature on a grid).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from vae.analysis.posterior import posterior_grid


@dataclass
class PosteriorWidth:
    """q(z|x) against p(z|x) for one image. Lengths in latent units, log-densities in nats."""

    q_sd: tuple[float, float]          # standard deviations of q(z|x) along z1, z2
    posterior_sd: tuple[float, float]  # standard deviations of p(z|x) along z1, z2 (grid moments)
    area_ratio: float                  # sqrt(det cov q) / sqrt(det cov p(z|x)): > 1 means q is broader
    kl_q_to_posterior: float           # KL(q(z|x) || p(z|x)): the ELBO's gap
    elbo: float                        # E_q[log p(x|z)] - KL(q || p(z)), on the grid
    log_px: float                      # log p(x) by quadrature


def posterior_width(model, x: torch.Tensor, grid_size: int = 201) -> PosteriorWidth:
    """PosteriorWidth of ONE image x (1, C, H, W) (uint8 or float in [0, 1]) under a 2-d model."""
    g = posterior_grid(model, x, grid_size=grid_size)
    q_sd = torch.exp(0.5 * g.q_logvar)
    cov = g.posterior_cov
    det = float(torch.linalg.det(cov))
    return PosteriorWidth(
        q_sd=(float(q_sd[0]), float(q_sd[1])),
        posterior_sd=(math.sqrt(float(cov[0, 0])), math.sqrt(float(cov[1, 1]))),
        area_ratio=float(q_sd.prod()) / math.sqrt(det) if det > 0 else float("inf"),
        kl_q_to_posterior=g.kl_q_to_posterior, elbo=g.elbo, log_px=g.log_px)


def posterior_width_summary(model, images: torch.Tensor, grid_size: int = 101) -> dict[str, float]:
    """Means over images (N, C, H, W) of: q_sd and posterior_sd (averaged over both axes), the
    geometric mean of area_ratio, kl_q_to_posterior, elbo and log_px; plus "n" (images)."""
    rows = [posterior_width(model, images[i:i + 1], grid_size) for i in range(len(images))]
    n = len(rows)
    if n == 0:
        raise ValueError("posterior_width_summary needs at least one image")
    mean = lambda values: sum(values) / n  # noqa: E731
    return {"n": n,
            "q_sd": mean([sum(r.q_sd) / 2 for r in rows]),
            "posterior_sd": mean([sum(r.posterior_sd) / 2 for r in rows]),
            "area_ratio": math.exp(mean([math.log(r.area_ratio) for r in rows])),
            **{k: mean([asdict(r)[k] for r in rows]) for k in ("kl_q_to_posterior", "elbo", "log_px")}}
