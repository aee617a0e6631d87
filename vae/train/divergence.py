"""When training has diverged: a NaN, or a loss that exploded past a yardstick of chance."""

from __future__ import annotations

import math

from vae.config import ModelConfig

__all__ = ["TrainingDiverged", "chance_loss_nats", "DIVERGENCE_FACTOR"]

DIVERGENCE_FACTOR = 20  # a step's loss above this many times chance_loss_nats means training exploded


class TrainingDiverged(RuntimeError):
    """The loss (or the weights) became NaN or inf, or the loss exploded (over DIVERGENCE_FACTOR times
    chance_loss_nats); training stopped without saving the bad state."""


def chance_loss_nats(model_config: ModelConfig) -> float:
    """The reconstruction loss, nats per image, of a model that knows nothing and predicts 0.5 for
    every pixel: what a freshly initialised VAE scores, and a yardstick for an exploding loss.

    Bernoulli: exactly n_pixels * log 2, whatever the image (-log 0.5 per pixel for any x in [0, 1]).
    Gaussian with std sigma (1 when learned, its initial value): at most, over x in [0, 1],
    n_pixels * (1 / (8 sigma^2) + |log sigma| + log(2 pi) / 2).
    Healthy runs on the bundled data stay under 2.3 times this at any step, even at lr 3e-2 (their
    first steps score about 1 times it), while --lr 9.9 reaches 1e7 times it in its first epoch: so
    training stops as diverged when one step's loss (recon + KL, beta = 1) passes DIVERGENCE_FACTOR
    times it.
    """
    n_pixels = model_config.channels * model_config.image_size * model_config.image_size
    if model_config.likelihood == "bernoulli":
        return n_pixels * math.log(2.0)
    sigma = float(model_config.gaussian_sigma or 1.0)
    return n_pixels * (0.125 / sigma ** 2 + abs(math.log(sigma)) + 0.5 * math.log(2 * math.pi))
