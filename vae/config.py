"""Configuration dataclasses. The JSON inside a checkpoint is these, as dicts.

`ModelConfig` is everything needed to rebuild a model's tensors; `TrainConfig` is the recipe
that trained it. Both validate themselves on construction so a bad checkpoint or a bad command
line fails with a message that names the field.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from vae.objective_specs import OBJECTIVE_SPECS

ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")
ACTIVATIONS = ("relu", "tanh")
CONV_IMAGE_SIZES = (28, 32, 64)
LATENT_DIM_RANGE = (2, 128)
BINARIZE_MODES = ("none", "static", "dynamic")
LR_SCHEDULES = ("constant", "cosine", "exponential", "burda")
OBJECTIVES = tuple(OBJECTIVE_SPECS)   # the training loss (vae.objective_specs): the one-sample ELBO, Burda et al.'s
                                      # k-sample bound, Chen et al.'s beta-TCVAE or Kim & Mnih's FactorVAE
TC_OBJECTIVES = tuple(n for n, s in OBJECTIVE_SPECS.items() if s.penalises_tc)   # penalise q(z)'s total correlation
MAX_DISC_LAYERS = 6                # FactorVAE discriminator: hidden layers at most (Kim & Mnih used 6 of 1000)
IWAE_K_MAX = 5000
BURDA_STAGES = 8                   # Burda et al. 2016: lr * 10^(-i/7) for 3^i epochs, i = 0..7 (3,280 epochs)
RESUMABLE_SCHEDULE_FIELDS = ("lr_schedule", "lr_min", "lr_decay_start")   # what a resume may change, beside epochs


MAX_HIDDEN_LAYERS = 8          # fully connected hidden layers of an encoder (the decoder mirrors them)
MAX_CONV_STAGES = 6            # stride-2 conv stages (64 pixels halve 6 times to 1)
MAX_PARAMETERS = 64_000_000    # weights of one model (256 MB in float32); checked from the config, before building


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type, or out of range."""


def _is_int(v: Any) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    """A finite real number (not a bool, not NaN or inf)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _int_tuple(value: Any, name: str, lo: int, hi: int, max_len: int) -> tuple[int, ...]:
    """A list / tuple of integers in [lo, hi], at most `max_len` long, as a tuple; ConfigError naming `name`."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"{name} must be a list of integers, got {value!r:.80}")
    if len(value) > max_len:
        raise ConfigError(f"{name} has {len(value)} entries; at most {max_len} are allowed")
    bad = [v for v in value if not _is_int(v) or not lo <= v <= hi]
    if bad:
        raise ConfigError(f"{name} must hold integers from {lo} to {hi}, got {bad[0]!r:.40}")
    return tuple(int(v) for v in value)


def _from_dict(cls, data: dict[str, Any], what: str):
    """Build dataclass `cls` from `data`, refusing unknown keys with a clear message."""
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a JSON object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{what}: unknown field(s) {unknown}; expected some of {sorted(names)}")
    try:
        return cls(**data)
    except ConfigError as e:
        raise ConfigError(f"{what}: {e}") from None
    except (TypeError, ValueError, OverflowError) as e:  # missing required field, or a value no check foresaw
        raise ConfigError(f"{what}: {e}") from None


@dataclass
class ModelConfig:
    """Shape of a VAE. Images are (channels, image_size, image_size) with values in [0, 1]."""

    arch: str = "mlp"                 # "mlp" (fully connected) or "conv" (28, 32 or 64 pixels square)
    channels: int = 1                 # 1 (grey) or 3 (RGB)
    image_size: int = 28              # height = width in pixels; mlp takes any size, conv 28/32/64
    latent_dim: int = 20              # dimensions of z, 2..128
    hidden: tuple[int, ...] = (400,)  # mlp: hidden widths of the encoder (decoder mirrors them);
                                      # conv: width of the fully connected layer after the convs
    conv_channels: tuple[int, ...] = (32, 64)  # conv: channels per stride-2 stage (len set by image size)
    likelihood: str = "bernoulli"     # p(x|z): "bernoulli" (logits) or "gaussian" (mean in [0,1])
    activation: str = "relu"          # between fully connected layers: "relu" or "tanh" (Burda et al.'s MLP)
    gaussian_sigma: float | None = 0.1  # gaussian: fixed std of p(x|z); None = learned scalar

    def __post_init__(self) -> None:
        for name in ("arch", "likelihood", "activation"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} must be a string, got {getattr(self, name)!r:.80}")
        for name in ("channels", "image_size", "latent_dim"):
            if not _is_int(getattr(self, name)):
                raise ConfigError(f"{name} must be an integer, got {getattr(self, name)!r:.80}")
            setattr(self, name, int(getattr(self, name)))
        self.hidden = _int_tuple(self.hidden, "hidden", 1, 8192, MAX_HIDDEN_LAYERS)
        self.conv_channels = _int_tuple(self.conv_channels, "conv_channels", 1, 1024, MAX_CONV_STAGES)
        if self.arch not in ARCHITECTURES:
            raise ConfigError(f"arch must be one of {ARCHITECTURES}, got {self.arch!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 (grey) or 3 (RGB), got {self.channels!r}")
        lo, hi = LATENT_DIM_RANGE
        if not isinstance(self.latent_dim, int) or not lo <= self.latent_dim <= hi:
            raise ConfigError(f"latent_dim must be an integer from {lo} to {hi}, got {self.latent_dim!r}")
        if not isinstance(self.image_size, int) or not 4 <= self.image_size <= 256:
            raise ConfigError(f"image_size must be an integer from 4 to 256, got {self.image_size!r}")
        if self.arch == "conv" and self.image_size not in CONV_IMAGE_SIZES:
            raise ConfigError(
                f"the conv architecture takes {'x'.join(map(str, CONV_IMAGE_SIZES))}-pixel square images "
                f"({', '.join(f'{s}x{s}' for s in CONV_IMAGE_SIZES)}), got {self.image_size}x{self.image_size}; "
                "use --arch mlp for other sizes")
        if self.arch == "mlp" and not self.hidden:
            raise ConfigError("mlp needs at least one hidden layer, e.g. hidden=(400,)")
        if any(h < 1 or h > 8192 for h in self.hidden):
            raise ConfigError(f"hidden widths must be 1..8192, got {self.hidden}")
        if self.arch == "conv" and (not self.conv_channels or any(c < 1 or c > 1024 for c in self.conv_channels)):
            raise ConfigError(f"conv_channels must be 1..1024 each, got {self.conv_channels}")
        if self.gaussian_sigma is not None and not (_is_number(self.gaussian_sigma) and self.gaussian_sigma > 0):
            raise ConfigError(f"gaussian_sigma must be a finite positive number or null (learned), "
                              f"got {self.gaussian_sigma!r:.80}")
        if self.arch == "conv" and self.image_size % 2 ** len(self.conv_channels):
            raise ConfigError(f"conv_channels: image_size {self.image_size} is not divisible by "
                              f"2^{len(self.conv_channels)} (one halving per conv stage {self.conv_channels})")
        n = self.num_parameters()
        if n > MAX_PARAMETERS:
            raise ConfigError(f"this config makes a model of {n:,} parameters, over the limit of "
                              f"{MAX_PARAMETERS:,}; use narrower hidden layers or smaller images")

    def num_parameters(self) -> int:
        """Weights and biases of `VAE(self)`, counted from the config alone (nothing is allocated)."""
        def linear(sizes: list[int]) -> int:
            return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        n_pixels = self.channels * self.image_size * self.image_size
        d = self.latent_dim
        if self.arch == "mlp":
            n = linear([n_pixels, *self.hidden, 2 * d]) + linear([d, *reversed(self.hidden), n_pixels])
        else:
            chans = [self.channels, *self.conv_channels]
            convs = sum(a * b * 16 + b for a, b in zip(chans[:-1], chans[1:]))    # 4x4 kernels, both ways
            deconvs = sum(b * a * 16 + a for a, b in zip(chans[:-1], chans[1:]))
            side = self.image_size // 2 ** len(self.conv_channels)
            flat = chans[-1] * side * side
            n = convs + deconvs + linear([flat, *self.hidden, 2 * d]) + linear([d, *reversed(self.hidden), flat])
        learned_sigma = self.likelihood == "gaussian" and self.gaussian_sigma is None
        return n + (1 if learned_sigma else 0)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W)."""
        return (self.channels, self.image_size, self.image_size)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        d["conv_channels"] = list(self.conv_channels)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        return _from_dict(cls, data, "model config")


def burda_stage(epoch: float) -> int:
    """Stage i (0..7) of Burda et al.'s schedule at fractional epoch `epoch` (0 = the start): stage i
    lasts 3^i epochs, so stages begin at epochs 0, 1, 4, 13, 40, 121, 364, 1093 and end at 3280."""
    i, end = 0, 1
    while i < BURDA_STAGES - 1 and epoch >= end:
        i += 1
        end += 3 ** i
    return i


@dataclass
class TrainConfig:
    """A training recipe. Defaults are the classic Kingma & Welling MNIST setup."""

    dataset: str = "digits"       # dataset name (see vae.data.DATASET_NAMES) or "folder:<path>"
    data_dir: str | None = None   # local folder of IDX files / images; None = bundled or cache
    epochs: int = 10              # passes over the training split
    batch_size: int = 128         # images per optimisation step
    lr: float = 1e-3              # Adam learning rate (the peak, where a schedule decays it)
    lr_schedule: str = "constant"  # "constant", "cosine" / "exponential" decay from lr to lr_min, or
                                   # "burda": lr * 10^(-i/7) for 3^i epochs, i = 0..7 (lr_min unused)
    lr_min: float = 1e-5          # learning rate at the last step when the schedule decays
    lr_decay_start: int = 0       # epoch after which the decay begins (lr is constant before)
    beta: float = 1.0             # weight of the KL term (beta-VAE); 1 is the true ELBO
    warmup: int = 0               # epochs over which the KL weight rises linearly from 0 to beta
    binarize: str = "none"        # "none" (continuous targets), "static" or "dynamic" Bernoulli draws
    objective: str = "elbo"       # training loss: "elbo" (one sample), "iwae" (k-sample importance-weighted
                                  # bound), "tcvae" (beta-TCVAE) or "factorvae" (vae.objective_specs)
    k: int = 1                    # iwae: importance samples per image (1 = the ELBO with a sampled KL term)
    # tcvae: `beta` above weighs the total correlation (Chen et al.'s beta; their alpha = gamma = 1).
    # factorvae: `beta` stays the KL weight (1 in Kim & Mnih) and these configure the TC penalty:
    gamma: float = 10.0           # factorvae: weight of the total correlation, estimated by the discriminator
    disc_hidden: tuple[int, ...] = (256, 256, 256)  # factorvae: hidden widths of the discriminator MLP
    disc_lr: float = 1e-4         # factorvae: the discriminator's Adam learning rate (betas 0.5, 0.9)
    seed: int = 0                 # seeds the model's init, batch order and binarisation
    device: str = "auto"          # "auto" (cuda, then mps, then cpu), or a torch device string
    extra: dict[str, Any] = field(default_factory=dict)  # dataset kwargs (image_size, n_train, ...)

    def __post_init__(self) -> None:
        for name in ("dataset", "lr_schedule", "binarize", "device"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} must be a string, got {getattr(self, name)!r:.80}")
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ConfigError(f"data_dir must be a string or null, got {self.data_dir!r:.80}")
        if not _is_int(self.seed):
            raise ConfigError(f"seed must be an integer, got {self.seed!r:.80}")
        if not isinstance(self.extra, dict):
            raise ConfigError(f"extra must be a JSON object of data set options, got {self.extra!r:.80}")
        for name in ("lr", "lr_min", "beta", "gamma", "disc_lr"):
            if not _is_number(getattr(self, name)):
                raise ConfigError(f"{name} must be a finite number, got {getattr(self, name)!r:.80}")
        for name in ("epochs", "batch_size", "lr_decay_start", "warmup"):
            if not _is_int(getattr(self, name)):
                raise ConfigError(f"{name} must be an integer, got {getattr(self, name)!r:.80}")
            setattr(self, name, int(getattr(self, name)))
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ConfigError(f"epochs must be a non-negative integer, got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < 10):
            raise ConfigError(f"lr must be in (0, 10), got {self.lr!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not (isinstance(self.lr_min, (int, float)) and self.lr_min > 0):
            raise ConfigError(f"lr_min must be positive, got {self.lr_min!r}")
        if self.lr_schedule in ("cosine", "exponential") and self.lr_min > self.lr:
            raise ConfigError(f"lr_min must be in (0, lr = {self.lr!r}], got {self.lr_min!r}")
        if not isinstance(self.lr_decay_start, int) or self.lr_decay_start < 0:
            raise ConfigError(f"lr_decay_start must be a non-negative number of epochs, got {self.lr_decay_start!r}")
        if not (isinstance(self.beta, (int, float)) and self.beta >= 0):
            raise ConfigError(f"beta must be >= 0, got {self.beta!r}")
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise ConfigError(f"warmup must be a non-negative number of epochs, got {self.warmup!r}")
        if self.binarize not in BINARIZE_MODES:
            raise ConfigError(f"binarize must be one of {BINARIZE_MODES}, got {self.binarize!r}")
        if self.objective not in OBJECTIVE_SPECS:
            raise ConfigError(f"objective must be one of {tuple(OBJECTIVE_SPECS)}, got {self.objective!r}")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= IWAE_K_MAX:
            raise ConfigError(f"k (importance samples per image) must be an integer from 1 to {IWAE_K_MAX}, "
                              f"got {self.k!r}")
        if "k" not in OBJECTIVE_SPECS[self.objective].options and self.k != 1:
            raise ConfigError(f"k = {self.k} importance samples needs objective 'iwae' "
                              f"({self.objective!r} takes one sample per image)")
        self.disc_hidden = _int_tuple(self.disc_hidden, "disc_hidden", 1, 4096, MAX_DISC_LAYERS)
        if not self.disc_hidden:
            raise ConfigError("disc_hidden needs at least one hidden layer, e.g. (256, 256, 256)")
        if self.gamma < 0:
            raise ConfigError(f"gamma (the FactorVAE total-correlation weight) must be >= 0, got {self.gamma!r}")
        if not 0 < self.disc_lr < 10:
            raise ConfigError(f"disc_lr (the FactorVAE discriminator's learning rate) must be in (0, 10), "
                              f"got {self.disc_lr!r}")
        if self.objective == "factorvae" and self.batch_size < 4:
            raise ConfigError(f"factorvae needs batch_size >= 4 (the discriminator compares one half of a batch "
                              f"with the other, dimension-permuted), got {self.batch_size}")

    def lr_at(self, epoch: float) -> float:
        """Learning rate at fractional epoch `epoch` (0 = the start; 2.5 = half-way through the third).

        Constant up to `lr_decay_start`, then from `lr` down to `lr_min` at `epochs`: along half a
        cosine, or geometrically ("exponential": the same factor every epoch); or, from
        `lr_decay_start`, Burda et al.'s stages ("burda": lr * 10^(-i/7) for 3^i epochs, i = 0..7, then
        the last rate), which ignore `epochs` and `lr_min`."""
        if self.lr_schedule == "constant" or epoch <= self.lr_decay_start:
            return float(self.lr)
        if self.lr_schedule == "burda":
            return float(self.lr * 10.0 ** (-burda_stage(epoch - self.lr_decay_start) / 7.0))
        span = self.epochs - self.lr_decay_start
        frac = 1.0 if span <= 0 else min(1.0, (epoch - self.lr_decay_start) / span)
        if self.lr_schedule == "cosine":
            return float(self.lr_min + (self.lr - self.lr_min) * 0.5 * (1.0 + math.cos(math.pi * frac)))
        return float(self.lr * (self.lr_min / self.lr) ** frac)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["disc_hidden"] = list(self.disc_hidden)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return _from_dict(cls, data, "train config")
