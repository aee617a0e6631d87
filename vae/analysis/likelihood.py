"""How good is a VAE, in nats: ELBO terms, IWAE log-likelihood, active units, the posterior on a grid.

The identity the project is built to show:

    log p(x) = ELBO(x) + KL(q(z|x) || p(z|x))

`elbo_terms` gives the left-hand bound, `iwae_log_likelihood` a tighter estimate of log p(x)
(Burda et al. 2016), so `iwae - elbo` estimates the KL term from below; for 2-d latents
`posterior_grid` computes every term by quadrature, the true posterior p(z|x) included.

Every function takes any model exposing

    encode(x) -> (mu, logvar)                 x (B, C, H, W) float, mu/logvar (B, D)
    log_px_given_z(x, z) -> (B,)              nats summed over pixels
    config.latent_dim                         D

and, when the model also has `decode_logits(z)` and `log_px_given_logits(x, logits)` (as `vae.VAE`
does), decodes many samples per image in one batched call. All log-densities are nats per image,
summed over pixels; images are floats in [0, 1] unless a function says uint8.

This module holds the latent-space statistics (per-dimension KL, active units) and the
evaluation over a whole data set (`evaluate_model`, `gap_by_k`); the ELBO and IWAE bounds of a
batch live in likelihood_bounds.py and their shared parts in likelihood_helpers.py. Every name
is importable from here.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Callable, Sequence

import torch

from vae.analysis.likelihood_bounds import _iwae_and_recon as _iwae_and_recon
from vae.analysis.likelihood_bounds import _iwae_batch as _iwae_batch
from vae.analysis.likelihood_bounds import _plan as _plan
from vae.analysis.likelihood_bounds import elbo_terms as elbo_terms
from vae.analysis.likelihood_bounds import iwae_log_likelihood as iwae_log_likelihood
from vae.analysis.likelihood_helpers import _NOISE_BLOCK as _NOISE_BLOCK
from vae.analysis.likelihood_helpers import MAX_ELEMENTS as MAX_ELEMENTS
from vae.analysis.likelihood_helpers import _as_model_input as _as_model_input
from vae.analysis.likelihood_helpers import _check_images as _check_images
from vae.analysis.likelihood_helpers import _image_shape as _image_shape
from vae.analysis.likelihood_helpers import _latent_dim as _latent_dim
from vae.analysis.likelihood_helpers import _log_px_many as _log_px_many
from vae.analysis.likelihood_helpers import _model_device_dtype as _model_device_dtype
from vae.analysis.likelihood_helpers import _NoiseStream as _NoiseStream
from vae.analysis.likelihood_helpers import _pixels as _pixels
from vae.analysis.likelihood_helpers import _randn as _randn
from vae.analysis.likelihood_helpers import _std_error as _std_error
from vae.device import pick_device
from vae.densities import gaussian_kl_to_standard_normal, log_standard_normal

log_prior_density = log_standard_normal  # log N(z; 0, I): (..., D) -> (...), nats


# ---------------------------------------------------------------------------------------------
# latent-space statistics
# ---------------------------------------------------------------------------------------------

def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean over images of each dimension's KL(q(z_d|x) || N(0, 1)): (N, D) each -> (D,), nats.

    Sums to the mean of `gaussian_kl_to_standard_normal(mu, logvar)`.
    """
    if mu.shape != logvar.shape or mu.dim() != 2:
        raise ValueError(f"mu and logvar must both be (N, D), got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(0)


def _encode_means(model, x: torch.Tensor, batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode images in batches under inference_mode -> (mu, logvar), each (N, D) on the CPU."""
    mus, logvars = [], []
    with torch.inference_mode():
        for i in range(0, x.shape[0], batch_size):
            mu, logvar = model.encode(_as_model_input(model, x[i:i + batch_size]))
            mus.append(mu.detach().cpu())
            logvars.append(logvar.detach().cpu())
    return torch.cat(mus), torch.cat(logvars)


def active_units(model, x_or_mu: torch.Tensor, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    """Active latent dimensions (Burda et al. 2016): d is active when Var_x(E_q[z_d | x]) > threshold.

    x_or_mu: images (N, C, H, W) (encoded here; `model` needed) or posterior means mu (N, D)
    (`model` may be None). Returns (count, variances (D,) float on the CPU); needs N >= 2.
    """
    if not isinstance(x_or_mu, torch.Tensor):
        raise TypeError(f"x_or_mu must be a torch.Tensor, got {type(x_or_mu).__name__}")
    if x_or_mu.dim() == 2:
        mu = x_or_mu.detach().cpu()
        if model is not None and mu.shape[1] != _latent_dim(model):
            raise ValueError(f"x_or_mu as means must be (N, {_latent_dim(model)}), got {tuple(mu.shape)}")
    elif x_or_mu.dim() == 4:
        if model is None:
            raise ValueError("active_units got images but no model to encode them")
        mu = _encode_means(model, x_or_mu)[0]
    else:
        raise ValueError(f"x_or_mu must be images (N, C, H, W) or means (N, D), got {tuple(x_or_mu.shape)}")
    if mu.shape[0] < 2:
        raise ValueError(f"active_units needs at least 2 images to measure a variance, got {mu.shape[0]}")
    variances = mu.cpu().double().var(dim=0, correction=1).float()
    return int((variances > threshold).sum()), variances


# ---------------------------------------------------------------------------------------------
# whole-dataset evaluation
# ---------------------------------------------------------------------------------------------

def static_binarize(images_uint8: torch.Tensor, seed: int = 0, block: int = 4096) -> torch.Tensor:
    """One fixed Bernoulli draw of uint8 images (N, C, H, W) -> uint8 {0, 1}, same shape, on the CPU.

    Pixel value v is 1 with probability v / 255. Deterministic for a given seed and N (drawn in
    fixed blocks of images from one CPU generator), whatever batch size later reads it.
    """
    g = torch.Generator().manual_seed(int(seed))
    images = images_uint8.cpu()
    out = torch.empty_like(images)
    for i in range(0, images.shape[0], block):
        part = images[i:i + block]
        out[i:i + block] = (torch.rand(part.shape, generator=g) * 255.0 < part.float()).to(torch.uint8)
    return out


def evaluate_model(model, images_uint8: torch.Tensor, *, iwae_samples: int = 0, binarize: str = "none",
                   seed: int = 0, batch_size: int = 256, device: str | torch.device | None = None,
                   elbo_samples: int = 1, max_elements: int = MAX_ELEMENTS,
                   progress: Callable[[int, int], Any] | None = None) -> dict[str, Any]:
    """Evaluate a model on a set of images; every number is a mean over images in nats per image.

    images_uint8: (N, C, H, W) uint8 (torch tensor or numpy array). binarize: "none" (scores
    x = v / 255), "static" (scores one fixed-seed Bernoulli draw, the convention for binarised
    MNIST); "dynamic" is treated as "static" so numbers are reproducible. seed fixes the
    binarisation and the latent samples. device: None = the model's own; another device runs a
    copy of the model there (the model passed in is never moved or modified).
    iwae_samples K > 0 adds the IWAE estimate; the ELBO's reconstruction term then averages the
    same K samples (a lower-variance estimate; the KL is always analytic), else `elbo_samples`.
    progress(done_images, total_images) is called after each batch.

    Returns a JSON-serialisable dict:
        elbo, recon, kl            mean ELBO and its terms
        iwae                       mean IWAE estimate of log p(x) (None when iwae_samples == 0)
        gap                        iwae - elbo: estimates the mean KL(q(z|x) || p(z|x)), from below
        elbo_se, iwae_se, gap_se   standard errors of those means over images (None if n < 2 / no iwae)
        k, n                       importance samples, images
        active_units, au_variances count and per-dimension Var_x(E_q[z_d]) (threshold 0.01;
                                   0 and None when n == 1)
        kl_per_dim                 per-dimension mean KL (sums to kl)
        binarize, seed, device, seconds
    """
    images = torch.as_tensor(images_uint8)
    if images.dtype != torch.uint8:
        raise TypeError(f"images must be uint8 (0..255), got dtype {images.dtype}; "
                        "convert float images in [0, 1] with (x * 255).round().to(torch.uint8)")
    _check_images(model, images, "images")
    if binarize not in ("none", "static", "dynamic"):
        raise ValueError(f"binarize must be 'none', 'static' or 'dynamic', got {binarize!r}")
    if not isinstance(iwae_samples, int) or iwae_samples < 0:
        raise ValueError(f"iwae_samples must be a non-negative integer, got {iwae_samples!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")

    start = time.perf_counter()
    model_device, _ = _model_device_dtype(model)
    run_device = model_device if device is None else pick_device(device)
    if run_device != model_device and not (run_device.type == model_device.type
                                           and run_device.index in (None, model_device.index)):
        model = copy.deepcopy(model).to(run_device)
    if binarize != "none":
        images = static_binarize(images, seed) * 255  # {0, 255}, so the scaling below gives {0, 1}
    generator = torch.Generator(device=_model_device_dtype(model)[0]).manual_seed(int(seed))

    n = images.shape[0]
    elbos, recons, kls, iwaes, mus, logvars = [], [], [], [], [], []
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for i in range(0, n, batch_size):
                x = _as_model_input(model, images[i:i + batch_size], "images")
                if iwae_samples > 0:
                    log_px, recon, mu, logvar = _iwae_and_recon(model, x, iwae_samples, None, max_elements, generator)
                    iwaes.append(log_px.detach().cpu().double())
                else:
                    mu, logvar = model.encode(x)
                    eps = _randn((elbo_samples, *mu.shape), generator, mu.device, mu.dtype)
                    recon = _log_px_many(model, x, mu + torch.exp(0.5 * logvar) * eps).mean(0)
                kl = gaussian_kl_to_standard_normal(mu, logvar)
                recons.append(recon.detach().cpu().double())
                kls.append(kl.detach().cpu().double())
                elbos.append((recon - kl).detach().cpu().double())
                mus.append(mu.detach().cpu())
                logvars.append(logvar.detach().cpu())
                if progress is not None:
                    progress(min(i + batch_size, n), n)
    finally:
        model.train(was_training)

    elbo, recon, kl = torch.cat(elbos), torch.cat(recons), torch.cat(kls)
    mu, logvar = torch.cat(mus), torch.cat(logvars)
    if n >= 2:
        au_count, au_var = active_units(None, mu)
        au_list = [float(v) for v in au_var]
    else:
        au_count, au_list = 0, None
    result: dict[str, Any] = {
        "elbo": float(elbo.mean()), "recon": float(recon.mean()), "kl": float(kl.mean()),
        "iwae": None, "gap": None, "elbo_se": _std_error(elbo), "iwae_se": None, "gap_se": None,
        "k": int(iwae_samples), "n": int(n),
        "active_units": au_count, "au_variances": au_list,
        "kl_per_dim": [float(v) for v in kl_per_dimension(mu.double(), logvar.double())],
        "binarize": binarize, "seed": int(seed), "device": str(_model_device_dtype(model)[0]),
    }
    if iwae_samples > 0:
        iwae = torch.cat(iwaes)
        result.update(iwae=float(iwae.mean()), gap=float((iwae - elbo).mean()),
                      iwae_se=_std_error(iwae), gap_se=_std_error(iwae - elbo))
    result["seconds"] = time.perf_counter() - start
    return result


def gap_by_k(model, x: torch.Tensor, ks: Sequence[int] = (1, 5, 50, 500), *, seed: int = 0,
             max_elements: int = MAX_ELEMENTS) -> list[dict[str, Any]]:
    """The IWAE estimate as K grows, for the "the gap closes" plot.

    x: (B, C, H, W) float in [0, 1] or uint8. For each K in ks: {"k", "iwae" (mean over images,
    nats), "se" (its standard error over images, None for B < 2), "gap" (iwae - elbo, where elbo
    uses the analytic KL and max(ks) samples for the reconstruction term)}. Each K draws fresh
    samples from a generator seeded with `seed`, so curves are reproducible.
    """
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    device, _ = _model_device_dtype(model)
    with torch.inference_mode():
        xm = _as_model_input(model, x)
        g = torch.Generator(device=device).manual_seed(int(seed))
        _, recon, mu, logvar = _iwae_and_recon(model, xm, max(ks), None, max_elements, g)
        elbo = (recon - gaussian_kl_to_standard_normal(mu, logvar)).cpu().double()
        rows = []
        for k in ks:
            g = torch.Generator(device=device).manual_seed(int(seed) + 1 + k)
            iwae = _iwae_and_recon(model, xm, k, None, max_elements, g)[0].cpu().double()
            rows.append({"k": k, "iwae": float(iwae.mean()), "se": _std_error(iwae),
                         "gap": float((iwae - elbo).mean())})
    return rows

