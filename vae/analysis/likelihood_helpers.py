"""The shared parts of the likelihood estimators (vae.analysis.likelihood and likelihood_bounds).

Images checked and moved to the model's device and dtype, the latent size, noise drawn in fixed
blocks (so chunking never changes it), log p(x|z) for many latent samples per image in one
batched decoder call, and the standard error of a mean. Log-densities are nats per image,
summed over pixels.
"""

from __future__ import annotations

import math

import torch

MAX_ELEMENTS = 2**24        # pixel-floats of decoder output in flight at once (64 MiB of float32)
_NOISE_BLOCK = 32           # eps is drawn in blocks of this many samples, so chunking never changes it


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
