"""beta-TCVAE (Chen, Li, Grosse & Duvenaud 2018, "Isolating Sources of Disentanglement in VAEs"): the
KL term of the ELBO, averaged over the data, splits into three parts,

    E_x KL(q(z|x) || p(z)) = I_q(x; z)                         index-code mutual information (MI)
                           + KL(q(z) || prod_j q(z_j))           total correlation (TC)
                           + sum_j KL(q(z_j) || p(z_j))          dimension-wise KL

and beta-TCVAE weighs them alpha, beta, gamma (here alpha = gamma = 1, beta the TC weight):

    loss = -mean_i [ log p(x_i|z_i) - (MI_i + beta * TC_i + dimKL_i) ]

q(z) = (1/N) sum_n q(z|x_n) is the aggregate posterior over a data set of N images; it is estimated on
a minibatch of B images by minibatch-weighted sampling (MWS, Chen et al. section 4.1):

    log q(z_i)          ~ logsumexp_j log q(z_i | x_j)              - log(N B)
    log prod_d q(z_id)  ~ sum_d [ logsumexp_j log q(z_id | x_jd)   - log(N B) ]

with z_i ~ q(z|x_i) and j over the batch. Per image i (nats):

    MI_i    = log q(z_i|x_i) - log q(z_i)
    TC_i    = log q(z_i) - log prod_d q(z_id)
    dimKL_i = log prod_d q(z_id) - log p(z_i)

The three telescope: MI_i + TC_i + dimKL_i = log q(z_i|x_i) - log p(z_i), the one-sample estimate of
KL(q(z|x_i) || p(z)) whatever N is. So with beta = 1 the loss is minus the one-sample ELBO with a
sampled KL term (the IWAE bound with k = 1 on the same noise); N and the MWS estimator only change how
the KL is split, which is what beta > 1 then weighs.

MWS's values are offset by constants of log N: where the batch covers q(z) densely, the estimates are
about MI + log N, TC + (D - 1) log N and dimKL - D log N (exactly so where every q(z|x) is the prior).
The offsets sum to zero and carry no gradient, but a logged TC estimate (`train_tc`) reads about
(D - 1) log N nats above the total correlation: 69 nats for D = 8 and N = 20,000.
"""

from __future__ import annotations

import math

import torch

from vae.densities import LOG_2PI, gaussian_kl_to_standard_normal, log_diag_normal, log_standard_normal
from vae.objectives import VAEOutput

__all__ = ["mws_decomposition", "tcvae_output"]


def _check_dataset_size(dataset_size, batch: int) -> int:
    if dataset_size is None:
        raise ValueError("beta-TCVAE needs the data set's size N (dataset_size): minibatch-weighted sampling "
                         "estimates the aggregate posterior q(z) = (1/N) sum_n q(z|x_n) from a batch")
    if isinstance(dataset_size, bool) or not isinstance(dataset_size, int) or dataset_size < batch:
        raise ValueError(f"dataset_size must be an integer no smaller than the batch ({batch} images): the number "
                         f"of training images, got {dataset_size!r}")
    return dataset_size


def mws_decomposition(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                      dataset_size: int) -> dict[str, torch.Tensor]:
    """The KL decomposition of a batch by minibatch-weighted sampling (see the module docstring).

    z, mu, logvar: (B, D), z_i ~ N(mu_i, diag exp(logvar_i)); dataset_size: N, the training images.
    Returns (B,) tensors in nats: "mi", "tc", "dim_kl", and the densities they come from:
    "log_qz_x" = log q(z_i|x_i), "log_qz" ~ log q(z_i), "log_prod_qzj" ~ log prod_d q(z_id),
    "log_pz" = log p(z_i). mi + tc + dim_kl == log_qz_x - log_pz (up to float rounding).
    """
    B = z.shape[0]
    n = _check_dataset_size(dataset_size, B)
    # log q(z_id | x_jd) for every pair (i, j) and dimension d: (B, B, D)
    zi, m, lv = z[:, None, :], mu[None, :, :], logvar[None, :, :]
    log_q_pairs = -0.5 * ((zi - m).pow(2) * torch.exp(-lv) + lv + LOG_2PI)
    log_nb = math.log(n * B)
    log_qz = torch.logsumexp(log_q_pairs.sum(dim=2), dim=1) - log_nb                   # (B,)
    log_prod_qzj = (torch.logsumexp(log_q_pairs, dim=1) - log_nb).sum(dim=1)           # (B,)
    log_qz_x = log_diag_normal(z, mu, logvar)                                          # (B,)
    log_pz = log_standard_normal(z)                                                    # (B,)
    return {"mi": log_qz_x - log_qz, "tc": log_qz - log_prod_qzj, "dim_kl": log_prod_qzj - log_pz,
            "log_qz_x": log_qz_x, "log_qz": log_qz, "log_prod_qzj": log_prod_qzj, "log_pz": log_pz}


def tcvae_output(model, x: torch.Tensor, dataset_size: int | None = None, tc_weight: float = 1.0,
                 beta: float = 1.0, target: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> VAEOutput:
    """beta-TCVAE on a batch x (B, C, H, W) in [0, 1] as a VAEOutput.

    `loss` = -mean_i [ recon_i - beta * (MI_i + tc_weight * TC_i + dimKL_i) ] (nats per image), with
    `tc_weight` Chen et al.'s beta (the recipe's `beta`) and `beta` here the regulariser's weight, 1
    except during a warm-up. `dataset_size` is N, the training images (ValueError when missing).
    `mi`, `tc`, `dim_kl` (B,) are the MWS terms; `kl` (B,) stays the analytic KL and `elbo` = recon - kl.
    The noise is one (B, D) draw from `generator`, the very eps the ELBO would use.
    """
    _check_dataset_size(dataset_size, x.shape[0])
    target = x if target is None else target
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu, logvar, generator)
    logits = model.decode_logits(z)
    recon = model.log_px_given_logits(target, logits)
    terms = mws_decomposition(z, mu, logvar, dataset_size)
    penalty = terms["mi"] + tc_weight * terms["tc"] + terms["dim_kl"]
    loss = -(recon - beta * penalty).mean()
    kl = gaussian_kl_to_standard_normal(mu, logvar)
    return VAEOutput(loss=loss, elbo=recon - kl, recon=recon, kl=kl, z=z, mu=mu, logvar=logvar, x_logits=logits,
                     tc=terms["tc"], mi=terms["mi"], dim_kl=terms["dim_kl"])
