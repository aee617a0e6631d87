"""The run's clock, as pure functions: how many optimiser steps an epoch takes, and the KL weight
(beta, dimensionless) and learning rate that a given 0-based optimiser step uses.

The Trainer calls these with its TrainConfig (batch_size, beta, warmup in epochs, the lr schedule)
and its steps per epoch; nothing here holds state.
"""

from __future__ import annotations

import math

import torch

__all__ = ["steps_per_epoch", "ramp_at", "beta_at", "lr_at", "set_lr"]


def steps_per_epoch(images_per_epoch: int, batch_size: int) -> int:
    """Optimiser steps that `images_per_epoch` images take in batches of `batch_size` (the last may be short)."""
    return math.ceil(images_per_epoch / batch_size)


def ramp_at(config, step: int, epoch_steps: int) -> float:
    """The warm-up's factor at optimiser step `step` (0-based), in [0, 1]: rises linearly from 0 to 1
    over `warmup` epochs (1 throughout without a warm-up). It scales the regulariser: the KL weight
    beta, beta-TCVAE's whole KL decomposition, FactorVAE's gamma."""
    if config.warmup <= 0:
        return 1.0
    return min(1.0, step / (config.warmup * epoch_steps))


def beta_at(config, step: int, epoch_steps: int) -> float:
    """KL weight at optimiser step `step` (0-based): rises linearly from 0 to beta over `warmup` epochs."""
    if config.warmup <= 0:
        return float(config.beta)
    return float(config.beta) * ramp_at(config, step, epoch_steps)


def lr_at(config, step: int, epoch_steps: int) -> float:
    """Learning rate of optimiser step `step` (0-based), from the recipe's schedule."""
    return config.lr_at(step / epoch_steps)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every param group's learning rate to `lr` (a group already there is left untouched)."""
    for group in optimizer.param_groups:
        if group["lr"] != lr:
            group["lr"] = lr
