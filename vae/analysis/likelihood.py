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
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Callable, Sequence

import torch

from vae.device import pick_device
from vae.model import LOG_2PI, gaussian_kl_to_standard_normal, log_standard_normal

MAX_ELEMENTS = 2**24        # pixel-floats of decoder output in flight at once (64 MiB of float32)
_NOISE_BLOCK = 32           # eps is drawn in blocks of this many samples, so chunking never changes it

log_prior_density = log_standard_normal  # log N(z; 0, I): (..., D) -> (...), nats


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------

def _model_device_dtype(model) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of the model's first floating parameter (cpu/float32 if none)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def _image_shape(model) -> tuple[int, ...] | None:
    shape = getattr(getattr(model, "config", None), "image_shape", None)
    return tuple(shape) if shape is not None else None


def _check_images(model, x: torch.Tensor, what: str = "x") -> None:
    """Raise a ValueError naming the problem when x is not (B, C, H, W) images for this model."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    shape = _image_shape(model)
    if x.dim() != 4 or (shape is not None and tuple(x.shape[1:]) != shape):
        want = f"(B, {', '.join(map(str, shape))})" if shape is not None else "(B, C, H, W)"
        raise ValueError(f"{what} must be images of shape {want}, got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{what} holds no images (shape {tuple(x.shape)})")


def _as_model_input(model, x: torch.Tensor, what: str = "x") -> torch.Tensor:
    """Float images on the model's device and dtype; uint8 (0..255) are scaled to [0, 1]."""
    _check_images(model, x, what)
    device, dtype = _model_device_dtype(model)
    if x.dtype == torch.uint8:
        return x.to(device).to(dtype) / 255.0
    if not x.is_floating_point():
        raise TypeError(f"{what} must be float images in [0, 1] or uint8, got dtype {x.dtype}")
    return x.to(device=device, dtype=dtype)


def _latent_dim(model) -> int:
    try:
        return int(model.config.latent_dim)
    except AttributeError:
        raise TypeError("the model must expose config.latent_dim") from None


def _randn(shape, generator: torch.Generator | None, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Standard normal noise on `device`, drawn on the generator's own device when that differs."""
    if generator is not None and generator.device.type != device.type:
        return torch.randn(shape, generator=generator, device=generator.device, dtype=dtype).to(device)
    return torch.randn(shape, generator=generator, device=device, dtype=dtype)


class _NoiseStream:
    """eps ~ N(0, I) of shape (total, *shape), handed out in pieces of any size.

    Draws happen in fixed blocks of `_NOISE_BLOCK` samples, so the numbers a caller receives
    depend on the generator and `total` only, never on the chunk sizes asked for.
    """

    def __init__(self, total: int, shape: tuple[int, ...], generator, device, dtype):
        self.to_draw, self.shape = total, shape
        self.generator, self.device, self.dtype = generator, device, dtype
        self.buffer: torch.Tensor | None = None

    def take(self, n: int) -> torch.Tensor:
        parts = []
        while n > 0:
            if self.buffer is None or len(self.buffer) == 0:
                size = min(_NOISE_BLOCK, self.to_draw)
                if size <= 0:
                    raise RuntimeError("noise stream exhausted")
                self.buffer = _randn((size, *self.shape), self.generator, self.device, self.dtype)
                self.to_draw -= size
            part, self.buffer = self.buffer[:n], self.buffer[n:]
            parts.append(part)
            n -= len(part)
        return parts[0] if len(parts) == 1 else torch.cat(parts)


def _log_px_many(model, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """log p(x|z) for K latent samples per image: x (B, C, H, W), z (K, B, D) -> (K, B), nats."""
    k, b, d = z.shape
    if hasattr(model, "decode_logits") and hasattr(model, "log_px_given_logits"):
        logits = model.decode_logits(z.reshape(k * b, d))
        return model.log_px_given_logits(x, logits.view(k, b, *logits.shape[1:]))
    x_rep = x.unsqueeze(0).expand(k, *x.shape).reshape(k * b, *x.shape[1:])
    return model.log_px_given_z(x_rep, z.reshape(k * b, d)).view(k, b)


def _pixels(x: torch.Tensor) -> int:
    return max(1, x[0].numel())


def _std_error(values: torch.Tensor) -> float | None:
    """Standard error of the mean of a 1-d tensor (None for fewer than 2 values)."""
    n = values.numel()
    if n < 2:
        return None
    return float(values.double().std(correction=1) / math.sqrt(n))


# ---------------------------------------------------------------------------------------------
# ELBO and IWAE
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# 2-d latents: the true posterior on a grid
# ---------------------------------------------------------------------------------------------
