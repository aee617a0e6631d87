"""When training has diverged: a NaN, or a loss that exploded past a yardstick of chance."""

from __future__ import annotations

import math

from vae.config import ModelConfig

__all__ = ["TrainingDiverged", "chance_loss_nats", "DIVERGENCE_FACTOR", "step_problem", "what_was_kept"]

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


def step_problem(recon_sum: float, kl_sum: float, iwae_sum: float, n: int, step: int, epoch: int,
                 explosion_nats: float, extra_sum: float = 0.0) -> str | None:
    """Why one optimiser step shows divergence, or None when it is healthy.

    The sums are over the step's `n` images (nats); `extra_sum` adds the objective's other sums (a
    total correlation estimate, a discriminator's loss), checked for NaN and inf only; `step` and `epoch` are 1-based, for the message;
    `explosion_nats` is DIVERGENCE_FACTOR * chance_loss_nats of the model, per image.
    """
    if not math.isfinite(recon_sum + kl_sum + iwae_sum + extra_sum):
        bad = recon_sum + kl_sum + iwae_sum + extra_sum
        return f"loss became {'nan' if math.isnan(bad) else bad} at step {step} (epoch {epoch})"
    if (recon_sum + kl_sum) / max(n, 1) > explosion_nats:
        return (f"loss exploded to {(recon_sum + kl_sum) / max(n, 1):.4g} nats per image at step "
                f"{step} (epoch {epoch}), over {DIVERGENCE_FACTOR} times the "
                f"{explosion_nats / DIVERGENCE_FACTOR:.4g} nats of a model that predicts 0.5 "
                "for every pixel")
    return None


def what_was_kept(checkpoint_path, saved_at: tuple[int, int] | None, out_dir) -> str:
    """The clause of a divergence message that says which checkpoint survives."""
    if checkpoint_path is not None and saved_at is not None:
        epoch, step = saved_at
        return f"the last good checkpoint (epoch {epoch}, step {step}) is kept in {checkpoint_path}"
    if out_dir is not None:
        return f"no checkpoint was written to {out_dir} (it diverged before the first epoch ended)"
    return "nothing was saved (no out_dir)"
