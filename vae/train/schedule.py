"""The run's clock: how many optimiser steps an epoch takes on this rank, and the KL weight (beta,
dimensionless) and learning rate that a given 0-based optimiser step uses.

`ScheduleMixin` is a part of `vae.train.trainer.Trainer`; its methods read the trainer's `config`
(TrainConfig: batch_size, epochs, beta, warmup in epochs, the lr schedule), `x_train`
((N, C, H, W) training images on the device), `dist` (this process's place in a torchrun job) and
`optimizer` (whose param groups `_set_lr` updates).
"""

from __future__ import annotations

import math

__all__ = ["ScheduleMixin"]


class ScheduleMixin:
    """Steps per epoch and the per-step schedules of a Trainer (beta warm-up, learning rate)."""

    @property
    def shard_size(self) -> int:
        """Training images this rank sees per epoch."""
        return len(self.x_train) // self.dist.world_size if self.dist.enabled else len(self.x_train)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.shard_size / self.config.batch_size)

    @property
    def total_steps(self) -> int:
        return self.config.epochs * self.steps_per_epoch

    def beta_at(self, step: int) -> float:
        """KL weight at optimiser step `step` (0-based): rises linearly from 0 to beta over `warmup` epochs."""
        if self.config.warmup <= 0:
            return float(self.config.beta)
        return float(self.config.beta) * min(1.0, step / (self.config.warmup * self.steps_per_epoch))

    def lr_at(self, step: int) -> float:
        """Learning rate of optimiser step `step` (0-based), from the recipe's schedule."""
        return self.config.lr_at(step / self.steps_per_epoch)

    def _set_lr(self, step: int) -> None:
        lr = self.lr_at(step)
        for group in self.optimizer.param_groups:
            if group["lr"] != lr:
                group["lr"] = lr
