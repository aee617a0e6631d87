"""The variational autoencoder: encoder q(z|x), decoder p(x|z), prior N(0, I), ELBO terms.

Conventions used throughout the project:
    x      images, float (B, C, H, W) in [0, 1]
    z      latent points, float (B, D)
    mu, logvar   parameters of q(z|x) = N(mu, diag exp(logvar)), each (B, D)
All log-densities are in nats per image, summed over pixels (never averaged over pixels).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ConfigError, ModelConfig
from .densities import LOG_2PI
from .objective_specs import objective_spec
from .objectives import VAEOutput, elbo_output, iwae_output
from .objectives_tc import tcvae_output

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def _mlp(sizes: list[int], activation: str = "relu") -> nn.Sequential:
    """Linear layers of the given widths with `activation` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """(B, C, H, W) -> (B, 2D): flatten, hidden layers (ReLU or tanh), then [mu, logvar]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        n_pixels = cfg.channels * cfg.image_size * cfg.image_size
        self.net = _mlp([n_pixels, *cfg.hidden, 2 * cfg.latent_dim], cfg.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


class MLPDecoder(nn.Module):
    """(B, D) -> (B, C, H, W) logits: hidden layers (the encoder's, reversed; ReLU or tanh)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.image_shape = cfg.image_shape
        n_pixels = cfg.channels * cfg.image_size * cfg.image_size
        self.net = _mlp([cfg.latent_dim, *reversed(cfg.hidden), n_pixels], cfg.activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.image_shape)


class ConvEncoder(nn.Module):
    """(B, C, S, S) -> (B, 2D): stride-2 4x4 convs halve S per stage, then fully connected layers."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        chans = [cfg.channels, *cfg.conv_channels]
        convs: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:]):
            convs += [nn.Conv2d(a, b, 4, stride=2, padding=1), nn.ReLU()]
        self.convs = nn.Sequential(*convs)
        side = cfg.image_size // 2 ** len(cfg.conv_channels)
        self.fc = _mlp([chans[-1] * side * side, *cfg.hidden, 2 * cfg.latent_dim], cfg.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x).flatten(1))  # convs end in a ReLU


class ConvDecoder(nn.Module):
    """(B, D) -> (B, C, S, S) logits: fully connected up to a (C_last, S/2^n, S/2^n) map,
    then stride-2 4x4 transposed convs doubling the side per stage."""

    cpu_channels_last = True   # bench/conv_layout.py turns it off for its baseline

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.side = cfg.image_size // 2 ** len(cfg.conv_channels)
        self.top_channels = cfg.conv_channels[-1]
        self.fc = _mlp([cfg.latent_dim, *reversed(cfg.hidden), self.top_channels * self.side * self.side],
                       cfg.activation)
        chans = [*reversed(cfg.conv_channels), cfg.channels]
        deconvs: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(chans[:-1], chans[1:])):
            deconvs.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1))
            if i < len(chans) - 2:
                deconvs.append(nn.ReLU())
        self.deconvs = nn.Sequential(*deconvs)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc(z)).view(-1, self.top_channels, self.side, self.side)
        if h.device.type == "cpu" and self.cpu_channels_last:
            # oneDNN's channels-last transposed convs: same numbers, about 1.5x faster on a CPU
            h = h.contiguous(memory_format=torch.channels_last)
        return self.deconvs(h).contiguous()


class VAE(nn.Module):
    """A VAE with a N(0, I) prior. The constructor's argument is the config; `model.config` keeps it."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.arch == "conv" and config.image_size % 2 ** len(config.conv_channels):
            raise ConfigError(f"image_size {config.image_size} is not divisible by 2^{len(config.conv_channels)} "
                              f"(one halving per conv stage {config.conv_channels})")
        self.config = config
        if config.arch == "mlp":
            self.encoder, self.decoder = MLPEncoder(config), MLPDecoder(config)
        else:
            self.encoder, self.decoder = ConvEncoder(config), ConvDecoder(config)
        if config.likelihood == "gaussian" and config.gaussian_sigma is None:
            self.log_sigma = nn.Parameter(torch.zeros(()))  # learned scalar log std of p(x|z)
        else:
            self.log_sigma = None

    # ---- q(z|x) ------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, H, W) in [0, 1] -> (mu, logvar), each (B, D)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.config.image_shape:
            raise ValueError(f"expected images of shape (B, {', '.join(map(str, self.config.image_shape))}), "
                             f"got {tuple(x.shape)}")
        h = self.encoder(x)
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I); differentiable in mu and logvar. (B, D) -> (B, D)."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    # ---- p(x|z) ------------------------------------------------------------------------------
    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, D) -> decoder output before the sigmoid link, (B, C, H, W)."""
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"expected latent points of shape (B, {self.config.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, D) -> mean image E[x|z], (B, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def sigma(self) -> torch.Tensor:
        """Std of the Gaussian likelihood (scalar tensor); only meaningful for likelihood="gaussian"."""
        if self.log_sigma is not None:
            return self.log_sigma.exp()
        return torch.tensor(float(self.config.gaussian_sigma or 1.0))

    def log_px_given_logits(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """log p(x|z) given the decoder output for z; x, logits (..., C, H, W) -> (...), nats."""
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").flatten(-3).sum(-1)
        mean = torch.sigmoid(logits)
        log_sigma = self.log_sigma if self.log_sigma is not None else torch.tensor(
            math.log(self.config.gaussian_sigma), device=x.device, dtype=x.dtype)
        sq = ((x - mean) * torch.exp(-log_sigma)).pow(2)
        return (-0.5 * sq - log_sigma - 0.5 * LOG_2PI).flatten(-3).sum(-1)

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) for x (B, C, H, W), z (B, D) -> (B,), nats summed over pixels."""
        return self.log_px_given_logits(x, self.decode_logits(z))

    # ---- the ELBO ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, beta: float = 1.0, target: torch.Tensor | None = None,
                generator: torch.Generator | None = None, k: int | None = None,
                tcvae: dict | None = None, objective: str | None = None, **options) -> VAEOutput:
        """One-sample ELBO of x (B, C, H, W) in [0, 1] (vae.objectives.elbo_output); with `k`, the
        k-sample IWAE bound as the loss (vae.objectives.iwae_output); with `tcvae`
        ({"dataset_size": N, "tc_weight": beta}), beta-TCVAE (vae.objectives_tc.tcvae_output); with
        `objective`, the loss function vae.objective_specs registers under that name, given `options`
        (its ObjectiveSpec.loss_kwargs). The trainer calls it so, through DistributedDataParallel.

        `target` is what p(x|z) scores (defaults to x); `beta` weights the KL in `loss` only.
        """
        if objective is not None:
            loss = objective_spec(objective).loss_function()
            if k is not None:                     # `k` is also this method's own keyword
                options["k"] = k
            return loss(self, x, beta=beta, target=target, generator=generator, **options)
        if tcvae is not None:
            return tcvae_output(self, x, beta=beta, target=target, generator=generator, **tcvae)
        if k is not None:
            return iwae_output(self, x, k, beta=beta, target=target, generator=generator)
        return elbo_output(self, x, beta=beta, target=target, generator=generator)

    @torch.inference_mode()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """n mean images decoded from z ~ N(0, temperature^2 I): (n, C, H, W) in [0, 1]."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=device) * temperature
        return self.decode(z)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in `VAE(config).state_dict()`, built on the meta device:
    nothing is allocated (ModelConfig has already bounded the layer and parameter counts)."""
    with torch.device("meta"):
        model = VAE(config)
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}



def training_memory_bytes(config: ModelConfig, batch_size: int, k: int = 1) -> int:
    """A lower bound on the memory (bytes) training `config` with Adam takes: float32 weights, gradients and
    Adam's two moments (16 bytes a weight, `config.num_parameters()`), plus the activations of one batch of
    `batch_size` x `k` samples through every layer, kept for the backward pass (float32, twice: pre- and
    post-activation). Ignores allocator slack and the data set itself."""
    c, h, w = config.image_shape
    if config.arch == "conv":
        side, feature_maps = h, 0
        for ch in config.conv_channels:
            side //= 2
            feature_maps += ch * side * side
        widths = [c * h * w, feature_maps, *config.hidden, 2 * config.latent_dim, config.latent_dim,
                  *reversed(config.hidden), feature_maps, c * h * w]
    else:
        widths = [c * h * w, *config.hidden, 2 * config.latent_dim, config.latent_dim, *reversed(config.hidden),
                  c * h * w]
    activations = 2 * 4 * batch_size * max(1, k) * sum(widths)
    return 16 * config.num_parameters() + activations
