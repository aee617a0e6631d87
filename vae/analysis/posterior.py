"""The true posterior p(z|x) of a 2-d model on a grid, beside q(z|x)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vae.analysis.likelihood import MAX_ELEMENTS, _as_model_input, _latent_dim, _log_px_many, _pixels
from vae.densities import gaussian_kl_to_standard_normal, log_diag_normal, log_standard_normal


@dataclass
class PosteriorGrid:
    """Every term of log p(x) = ELBO + KL(q || p(z|x)) for one image, by quadrature on a 2-d grid.

    Arrays are float64 on the CPU, indexed [j, i] for the point z = (z1[i], z2[j]): rows follow z2
    (the y axis), columns z1 (the x axis), ready for `go.Heatmap(x=z1, y=z2, z=...)`.
    Densities are per unit area of latent space; scalars are nats.
    """

    z1: torch.Tensor              # (G,) first latent coordinate of the columns
    z2: torch.Tensor              # (G,) second latent coordinate of the rows
    log_likelihood: torch.Tensor  # (G, G) log p(x|z)
    log_joint: torch.Tensor       # (G, G) log p(x|z) + log p(z)
    log_posterior: torch.Tensor   # (G, G) log p(z|x) = log_joint - log_px (normalised on the grid)
    log_q: torch.Tensor           # (G, G) log q(z|x), the encoder's Gaussian (analytic density)
    q_mu: torch.Tensor            # (2,) mean of q(z|x)
    q_logvar: torch.Tensor        # (2,) log-variances of q(z|x)
    log_px: float                 # log p(x) = logsumexp(log_joint) + log(cell_area)
    elbo: float                   # grid E_q[log p(x|z)] - analytic KL(q || p(z))
    elbo_grid: float              # E_q[log p(x,z) - log q] with q normalised on the grid
    kl_q_to_posterior: float      # KL(q || p(z|x)) on the grid = log_px - elbo_grid exactly
    recon: float                  # E_q[log p(x|z)] on the grid
    kl: float                     # analytic KL(q(z|x) || N(0, I))
    posterior_mean: torch.Tensor  # (2,) mean of p(z|x) on the grid
    posterior_cov: torch.Tensor   # (2, 2) covariance of p(z|x) on the grid
    cell_area: float              # dz1 * dz2
    extent: tuple[tuple[float, float], tuple[float, float]]  # ((z1 lo, hi), (z2 lo, hi))


def _parse_extent(extent) -> tuple[tuple[float, float], tuple[float, float]]:
    """None is handled by the caller; a number r -> [-r, r]^2; (lo, hi) -> both axes; or per axis."""
    try:
        if isinstance(extent, (int, float)):
            r = float(extent)
            out = ((-r, r), (-r, r))
        elif len(extent) == 2 and all(isinstance(v, (int, float)) for v in extent):
            out = ((float(extent[0]), float(extent[1])),) * 2
        else:
            (a, b), (c, d) = extent
            out = ((float(a), float(b)), (float(c), float(d)))
    except (TypeError, ValueError):
        raise ValueError(f"extent must be r, (lo, hi) or ((z1 lo, hi), (z2 lo, hi)), got {extent!r}") from None
    if not all(lo < hi and math.isfinite(lo) and math.isfinite(hi) for lo, hi in out):
        raise ValueError(f"extent needs finite lo < hi on both axes, got {out}")
    return out


def _log_joint_on_grid(model, x, z1, z2, max_elements) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p(x|z), log p(x|z) + log p(z)) at every grid point, each (G2, G1) float64 on the CPU."""
    zz2, zz1 = torch.meshgrid(z2, z1, indexing="ij")                         # (G2, G1)
    z = torch.stack([zz1.reshape(-1), zz2.reshape(-1)], dim=-1)              # (M, 2)
    per = max(1, max_elements // _pixels(x))
    lik = torch.cat([_log_px_many(model, x, z[i:i + per].unsqueeze(1))[:, 0]
                     for i in range(0, z.shape[0], per)])                    # (M,)
    lik = lik.cpu().double().view(zz1.shape)
    return lik, lik + log_standard_normal(torch.stack([zz1, zz2], -1).cpu().double())


def posterior_grid(model, x: torch.Tensor, *, grid_size: int = 201, extent=None, refine: bool = True,
                   mass_nats: float = 30.0, max_elements: int = MAX_ELEMENTS) -> PosteriorGrid:
    """The true posterior p(z|x) of ONE image on a grid_size^2 grid, for a model with 2-d latents.

    x: (1, C, H, W) (or (C, H, W)) float in [0, 1] or uint8.
    extent: None (auto), r, (lo, hi) or ((z1 lo, hi), (z2 lo, hi)). Auto starts from q's
    mean +- 6 sigma united with [-4, 4]^2 (the prior's mass); with `refine` it then zooms (or widens)
    to the box holding every cell within `mass_nats` of the posterior's peak, still united with
    q's mean +- 6 sigma, so a sharp posterior gets many cells and the quadrature stays accurate.
    The decoder runs under no_grad in batches of at most `max_elements` pixel-floats.
    """
    if _latent_dim(model) != 2:
        raise ValueError(f"posterior_grid needs a model with 2-d latents, this one has {_latent_dim(model)}")
    if not isinstance(grid_size, int) or not 3 <= grid_size <= 2001:
        raise ValueError(f"grid_size must be an integer from 3 to 2001, got {grid_size!r}")
    if isinstance(x, torch.Tensor) and x.dim() == 3:
        x = x.unsqueeze(0)
    if isinstance(x, torch.Tensor) and x.dim() == 4 and x.shape[0] != 1:
        raise ValueError(f"posterior_grid takes ONE image (1, C, H, W), got a batch of {x.shape[0]}")
    with torch.no_grad():  # not inference_mode: the arrays returned are ordinary tensors
        xm = _as_model_input(model, x)
        mu, logvar = model.encode(xm)
        mu, logvar = mu[0], logvar[0]                                             # (2,) each
        dtype = mu.dtype
        q_mu, q_logvar = mu.detach().cpu().double(), logvar.detach().cpu().double()
        q_sd = torch.exp(0.5 * q_logvar)
        q_box = [(float(m - 6 * s), float(m + 6 * s)) for m, s in zip(q_mu, q_sd)]

        if extent is not None:
            box, passes = _parse_extent(extent), 1
        else:
            box = tuple((min(lo, -4.0), max(hi, 4.0)) for lo, hi in q_box)
            passes = 4 if refine else 1
        for step in range(passes):
            z1 = torch.linspace(*box[0], grid_size, dtype=torch.float64)
            z2 = torch.linspace(*box[1], grid_size, dtype=torch.float64)
            lik, joint = _log_joint_on_grid(model, xm, z1.to(mu.device, dtype), z2.to(mu.device, dtype),
                                            max_elements)
            if step == passes - 1:
                break
            new_box = _mass_box(joint, z1, z2, box, q_box, mass_nats)
            widths = [hi - lo for lo, hi in box]
            new_widths = [hi - lo for lo, hi in new_box]
            grew = any(nw > w * 1.0001 for nw, w in zip(new_widths, widths))
            shrank = any(nw < 0.5 * w for nw, w in zip(new_widths, widths))
            if not (grew or shrank):
                break
            box = new_box

    area = float((z1[1] - z1[0]) * (z2[1] - z2[0]))
    log_px = float(torch.logsumexp(joint.reshape(-1), 0)) + math.log(area)
    log_post = joint - log_px
    zz2, zz1 = torch.meshgrid(z2, z1, indexing="ij")
    zs = torch.stack([zz1, zz2], -1)                                             # (G2, G1, 2)
    log_q = log_diag_normal(zs, q_mu, q_logvar)
    w = torch.softmax(log_q.reshape(-1), 0).view(log_q.shape)                   # q's mass per cell
    log_qn = log_q - (torch.logsumexp(log_q.reshape(-1), 0) + math.log(area))   # q normalised on the grid
    recon = float((w * lik).sum())
    elbo_grid = float((w * (joint - log_qn)).sum())
    kl_q_post = float((w * (log_qn - log_post)).sum())
    p = torch.softmax(joint.reshape(-1), 0).view(joint.shape)
    post_mean = (p.unsqueeze(-1) * zs).sum((0, 1))
    centred = zs - post_mean
    post_cov = torch.einsum("ji,jia,jib->ab", p, centred, centred)
    kl = float(gaussian_kl_to_standard_normal(q_mu, q_logvar))
    return PosteriorGrid(
        z1=z1, z2=z2, log_likelihood=lik, log_joint=joint, log_posterior=log_post, log_q=log_q,
        q_mu=q_mu, q_logvar=q_logvar, log_px=log_px, elbo=recon - kl, elbo_grid=elbo_grid,
        kl_q_to_posterior=kl_q_post, recon=recon, kl=kl, posterior_mean=post_mean, posterior_cov=post_cov,
        cell_area=area, extent=(tuple(box[0]), tuple(box[1])))


def _mass_box(joint, z1, z2, box, q_box, mass_nats):
    """The box holding every cell within mass_nats of the peak (padded 2 cells), united with q's
    box; a side where the mass touches the grid's edge is pushed out by half the grid's width."""
    keep = joint >= joint.max() - mass_nats                                       # (G2, G1)
    cols = torch.nonzero(keep.any(0)).flatten()
    rows = torch.nonzero(keep.any(1)).flatten()
    out = []
    for axis, idx, (lo, hi), (qlo, qhi) in ((z1, cols, box[0], q_box[0]), (z2, rows, box[1], q_box[1])):
        step = float(axis[1] - axis[0])
        a, b = int(idx.min()), int(idx.max())
        new_lo = float(axis[a]) - 2 * step if a > 0 else lo - 0.5 * (hi - lo)
        new_hi = float(axis[b]) + 2 * step if b < len(axis) - 1 else hi + 0.5 * (hi - lo)
        out.append((min(new_lo, qlo), max(new_hi, qhi)))
    return tuple(out)
