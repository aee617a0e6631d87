"""The protocol every explorable model meets, and the adapter that gives the app and vae.analysis
what they call on a model, whatever the model is underneath.

The protocol (what an outside model declares):

    encode(x) -> (mu, logvar)     x (B, C, H, W) float in [0, 1]; mu, logvar (B, D)
    decode(z) -> out              z (B, D); out (B, C, H, W):
                                    likelihood "bernoulli": logits of p(x|z)
                                    likelihood "gaussian":  the mean of p(x|z), or a pair
                                                            (mean, log_sigma) with log_sigma broadcastable
                                                            to the mean (per pixel, per image or a scalar)
    latent_dim: int               D
    image_shape: (C, H, W)
    likelihood: "bernoulli" | "gaussian"

A Gaussian model that returns no log-sigma uses its attribute `log_sigma` (a number or tensor) if it has
one, else sigma = 1. The prior is N(0, I). All log-densities are nats per image, summed over pixels.

`ProtocolVAE` is the adapter: an nn.Module with the names the project's own `vae.model.VAE` offers to
the rest of the code (`config.latent_dim`, `config.image_shape`, `encode`, `decode`, `decode_logits`,
`log_px_given_logits`, `log_px_given_z`, `forward` -> VAEOutput, `sample`, `device`,
`num_parameters`, `checkpoint_info`), so `vae.analysis` and every page work on it unchanged.
Subclasses supply `_encode(x)` and `_decode(z)`: OutsideVAE (a torch module) and OnnxVAE (onnxruntime).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

LIKELIHOODS = ("bernoulli", "gaussian")
LOG_2PI = math.log(2 * math.pi)
PROBE_BATCH = 2          # images in the probe batch that checks encode/decode shapes


class ProtocolError(ValueError):
    """A model that does not meet the protocol; the message names the model and what is wrong (one line)."""


@dataclass(frozen=True)
class ProtocolConfig:
    """What the rest of the project reads as `model.config` (the fields vae.model.VAE's config has)."""

    latent_dim: int                       # D
    image_shape: tuple[int, int, int]     # (C, H, W)
    likelihood: str                       # "bernoulli" | "gaussian"
    arch: str = "outside"                 # "outside" | "onnx": never "mlp"/"conv", so nothing mistakes it for ours

    @property
    def channels(self) -> int:
        return int(self.image_shape[0])

    @property
    def image_size(self) -> int:
        """Height in pixels (the project's own images are square)."""
        return int(self.image_shape[1])

    gaussian_sigma = None                 # not a field: vae.model.VAE's config has it, outside models never


def check_declared(obj: Any, where: str) -> ProtocolConfig:
    """The declared attributes latent_dim, image_shape, likelihood of `obj`, checked. Raises ProtocolError."""
    missing = [a for a in ("latent_dim", "image_shape", "likelihood") if not hasattr(obj, a)]
    if missing:
        raise ProtocolError(f"{where}: the model declares no {', '.join(missing)} (the protocol needs latent_dim, "
                            "image_shape (C, H, W) and likelihood as attributes)")
    d = obj.latent_dim
    if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 4096:
        raise ProtocolError(f"{where}: latent_dim must be an int in 1..4096, got {d!r}")
    shape = obj.image_shape
    try:
        shape = tuple(shape)
    except TypeError:
        raise ProtocolError(f"{where}: image_shape must be (C, H, W), got {shape!r}") from None
    if (len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape)
            or shape[0] not in (1, 3) or max(shape[1:]) > 1024):
        raise ProtocolError(f"{where}: image_shape must be (C, H, W) with C 1 or 3 and H, W in 1..1024, got {shape!r}")
    lik = obj.likelihood
    if lik not in LIKELIHOODS:
        raise ProtocolError(f"{where}: likelihood must be 'bernoulli' or 'gaussian', got {lik!r}")
    return ProtocolConfig(int(d), shape, lik)  # type: ignore[arg-type]


def _as_tensor(value: Any, what: str, where: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ProtocolError(f"{where}: {what} must be a torch.Tensor, got {type(value).__name__}")
    return value


class ProtocolVAE(nn.Module):
    """The adapter over a protocol model (see the module docstring). Subclasses define `_encode`, `_decode`.

    `decode_logits(z)` is the decoder's raw output that `log_px_given_logits` scores: the logits (B, C, H, W)
    for "bernoulli"; for "gaussian" the mean and log-sigma stacked as (B, 2, C, H, W).
    """

    config: ProtocolConfig

    def __init__(self, config: ProtocolConfig, where: str, checkpoint_info: dict | None = None):
        super().__init__()
        self.config = config
        self.where = where                                  # how messages name the model (never a server path)
        self.checkpoint_info = dict(checkpoint_info or {})  # {"dataset": {"name": ...}} when one was named
        self.log_sigma = None                               # the project's VAE has this; ours lives in _decode

    # ---- what subclasses supply ----------------------------------------------------------------
    def _encode(self, x: torch.Tensor) -> tuple[Any, Any]:
        raise NotImplementedError

    def _decode(self, z: torch.Tensor) -> Any:
        raise NotImplementedError

    def _default_log_sigma(self) -> Any:
        return 0.0

    # ---- q(z|x) ---------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, H, W) in [0, 1] -> (mu, logvar), each (B, D)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.config.image_shape:
            raise ValueError(f"expected images of shape (B, {', '.join(map(str, self.config.image_shape))}), "
                             f"got {tuple(x.shape)}")
        out = self._encode(x)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ProtocolError(f"{self.where}: encode must return (mu, logvar), got {type(out).__name__}")
        mu, logvar = (_as_tensor(t, n, self.where) for t, n in zip(out, ("mu", "logvar")))
        want = (x.shape[0], self.config.latent_dim)
        for t, n in ((mu, "mu"), (logvar, "logvar")):
            if tuple(t.shape) != want:
                raise ProtocolError(f"{self.where}: encode gave {n} of shape {tuple(t.shape)} for {x.shape[0]} "
                                    f"images; expected {want} (latent_dim {self.config.latent_dim})")
        return mu, logvar

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I). (B, D) -> (B, D)."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    # ---- p(x|z) ---------------------------------------------------------------------------------
    def _mean_and_log_sigma(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The decoder's output for z (B, D), checked: (logits or mean (B, C, H, W), log_sigma or None)."""
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"expected latent points of shape (B, {self.config.latent_dim}), got {tuple(z.shape)}")
        out = self._decode(z)
        log_sigma: Any = None
        if isinstance(out, (tuple, list)):
            if self.config.likelihood != "gaussian" or len(out) != 2:
                raise ProtocolError(f"{self.where}: decode returned a {type(out).__name__} of {len(out)}; "
                                    "expected a tensor (or (mean, log_sigma) for a gaussian likelihood)")
            out, log_sigma = out
        out = _as_tensor(out, "decode's output", self.where)
        want = (z.shape[0], *self.config.image_shape)
        if tuple(out.shape) != want:
            raise ProtocolError(f"{self.where}: decode gave shape {tuple(out.shape)} for {z.shape[0]} latent points; "
                                f"expected {want} (image_shape {self.config.image_shape})")
        if self.config.likelihood == "bernoulli":
            return out, None
        if log_sigma is None:
            log_sigma = self._default_log_sigma()
        log_sigma = torch.as_tensor(log_sigma, dtype=out.dtype, device=out.device)
        try:
            log_sigma = log_sigma.expand_as(out)
        except RuntimeError:
            raise ProtocolError(f"{self.where}: log_sigma of shape {tuple(log_sigma.shape)} does not broadcast to "
                                f"the mean's {tuple(out.shape)}") from None
        return out, log_sigma

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, D) -> the raw output log_px_given_logits scores: (B, C, H, W), or (B, 2, C, H, W) for gaussian."""
        out, log_sigma = self._mean_and_log_sigma(z)
        return out if log_sigma is None else torch.stack([out, log_sigma], dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, D) -> mean image E[x|z], (B, C, H, W) in [0, 1] (a gaussian mean clamped to [0, 1], the image
        shown; log_px_given_logits scores the raw mean)."""
        out, log_sigma = self._mean_and_log_sigma(z)
        return torch.sigmoid(out) if log_sigma is None else out.clamp(0.0, 1.0)

    def log_px_given_logits(self, x: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """log p(x|z) from decode_logits' output; x (..., C, H, W), raw (..., [2,] C, H, W) -> (...), nats."""
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(raw, x.expand_as(raw), reduction="none").flatten(-3).sum(-1)
        mean, log_sigma = raw.select(-4, 0), raw.select(-4, 1)
        sq = ((x - mean) * torch.exp(-log_sigma)).pow(2)
        return (-0.5 * sq - log_sigma - 0.5 * LOG_2PI).flatten(-3).sum(-1)

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) for x (B, C, H, W), z (B, D) -> (B,), nats summed over pixels."""
        return self.log_px_given_logits(x, self.decode_logits(z))

    def sigma(self) -> torch.Tensor:
        return torch.exp(torch.as_tensor(self._default_log_sigma(), dtype=torch.float32))

    # ---- the ELBO -------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, beta: float = 1.0, target: torch.Tensor | None = None,
                generator: torch.Generator | None = None, k: int | None = None):
        """One-sample ELBO of x (B, C, H, W) as vae.objectives.VAEOutput (k: the k-sample IWAE bound)."""
        from vae.objectives import elbo_output, iwae_output
        if k is not None:
            return iwae_output(self, x, k, beta=beta, target=target, generator=generator)
        return elbo_output(self, x, beta=beta, target=target, generator=generator)

    @torch.inference_mode()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """n mean images decoded from z ~ N(0, temperature^2 I): (n, C, H, W)."""
        device = generator.device if generator is not None else self.device
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=device) * temperature
        return self.decode(z.to(self.device))

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---- validation -----------------------------------------------------------------------------
    @torch.inference_mode()
    def probe(self, seed: int = 0) -> None:
        """Encode a probe batch of random images and decode prior points; raise ProtocolError naming what
        does not fit (shapes, types, non-finite values). Leaves the module in eval mode."""
        self.eval()
        g = torch.Generator().manual_seed(seed)
        x = torch.rand((PROBE_BATCH, *self.config.image_shape), generator=g).to(self.device)
        try:
            mu, logvar = self.encode(x)
            z = torch.randn((PROBE_BATCH, self.config.latent_dim), generator=g).to(self.device)
            raw = self.decode_logits(z)
        except ProtocolError:
            raise
        except Exception as e:  # noqa: BLE001 - the user's code failed on a well-formed batch: say where
            raise ProtocolError(f"{self.where}: failed on a probe batch of shape {tuple(x.shape)}: "
                                f"{type(e).__name__}: {e}") from e
        for t, n in ((mu, "encode's mu"), (logvar, "encode's logvar"), (raw, "decode's output")):
            if not torch.isfinite(t).all():
                raise ProtocolError(f"{self.where}: {n} is not finite (NaN or inf) on a probe batch")
