"""What a run's objective asks of the Trainer's step, as one component the Trainer owns.

    terms = ObjectiveTerms(config, latent_dim=8, dataset_size=len(x_train), device=device, distributed=dist)
    out, loss = terms.forward(net, x, step=..., epoch_steps=..., generator=noise)
    loss.backward(); optimizer.step()
    extra = terms.after_step(out, generator=noise)      # (2,) on the device: [tc sum, discriminator loss sum]

    elbo / iwae   VAE.forward's loss (the KL weight beta rises over `warmup` epochs; iwae passes k)
    tcvae         beta-TCVAE (vae.objectives_tc) with N = the training images; `beta` is the TC weight and
                  the whole regulariser rises from 0 to full over `warmup` epochs
    factorvae     the ELBO's loss (KL weight beta) + gamma * the discriminator's TC estimate
                  (vae.train.discriminator), both rising over `warmup`; then one step of the discriminator

Per epoch the records of a tcvae / factorvae run add `train_tc` (nats per image: the MWS estimate, which
reads about (D - 1) log N above the total correlation (vae.objectives_tc), or the discriminator's) and, for factorvae, `disc_loss` (the discriminator's cross-entropy, nats per code,
ln 2 = 0.693 at chance) and `gamma`.
"""

from __future__ import annotations

from typing import Any

import torch

import vae.train.schedule as clock
from vae.config import TrainConfig
from vae.objective_specs import objective_spec
from vae.train.checkpointing import EXTRA_SUMS   # the epoch's running sums `after_step` feeds, in its order
from vae.train.discriminator import FactorDiscriminator
from vae.train.inputs import _mix

__all__ = ["ObjectiveTerms", "EXTRA_SUMS"]


class ObjectiveTerms:
    """The objective of one run: VAE.forward's keyword arguments, the loss of a step and, for
    FactorVAE, the discriminator (its weights and Adam state travel in the checkpoint)."""

    def __init__(self, config: TrainConfig, latent_dim: int, dataset_size: int, device: torch.device,
                 distributed=None):
        self.config = config
        self.name = config.objective
        self.spec = objective_spec(config.objective)
        # VAE.forward's keyword arguments: the training loss, and the test score (the ELBO, plus the
        # objective's own bound where it has one: IWAE's k samples)
        self.train_kwargs: dict[str, Any] = {"objective": self.name,
                                             **self.spec.loss_kwargs(config, int(dataset_size))}
        self.eval_kwargs: dict[str, Any] = dict(self.train_kwargs) if self.spec.scores_own_bound else {}
        self.disc: FactorDiscriminator | None = None
        if self.spec.discriminator:
            if distributed is not None and distributed.enabled:
                raise ValueError("factorvae under torchrun is not supported: each process would train its own "
                                 "discriminator; train it in one process")
            self.disc = FactorDiscriminator(latent_dim, config.disc_hidden, config.disc_lr,
                                            seed=_mix(config.seed, 0xD15C), device=device)

    def forward(self, net: torch.nn.Module, x: torch.Tensor, *, step: int, epoch_steps: int,
                generator: torch.Generator):
        """(VAEOutput, loss to minimise) of 0-based optimiser step `step` on images x (B, C, H, W)."""
        ramp = clock.ramp_at if self.spec.warmup_ramps == "regulariser" else clock.beta_at   # what warm-up ramps
        out = net(x, beta=ramp(self.config, step, epoch_steps), generator=generator, **self.train_kwargs)
        if self.disc is None:
            return out, out.loss
        tc = self.disc.penalty(out.z)                                                    # (B,) nats
        out.tc = tc.detach()
        gamma = self.config.gamma * clock.ramp_at(self.config, step, epoch_steps)
        return out, out.loss + gamma * tc.mean()

    def after_step(self, out, generator: torch.Generator) -> torch.Tensor:
        """After the VAE's optimiser step: train the discriminator (FactorVAE) on the step's codes.
        Returns (2,) sums over the batch on the device: [TC estimate, discriminator loss * B] (zeros
        for elbo / iwae)."""
        tc = out.tc.detach().sum() if out.tc is not None else out.kl.new_zeros(())
        d_loss = self.disc.update(out.z, generator) * out.z.shape[0] if self.disc is not None \
            else out.kl.new_zeros(())
        return torch.stack([tc, d_loss])

    def record(self, partial: dict, n: int) -> dict[str, Any]:
        """The objective's fields of an epoch record, from the epoch's running sums over n images."""
        if not self.spec.penalises_tc:
            return {}
        rec: dict[str, Any] = {"train_tc": partial["tc_sum"] / n}
        if self.disc is not None:
            rec.update(disc_loss=partial["disc_sum"] / n, gamma=self.config.gamma)
        return rec

    # ---- checkpoint state -----------------------------------------------------------------
    def state_tensors(self) -> tuple[dict[str, torch.Tensor] | None, dict[str, Any]]:
        """(tensors for trainer_state.safetensors or None, JSON for the checkpoint's run state)."""
        if self.disc is None:
            return None, {}
        tensors, meta = self.disc.state_tensors()
        return tensors, {"discriminator": meta}

    def restore(self, path, state: dict[str, Any], tensors: dict[str, torch.Tensor] | None) -> None:
        """Load what `state_tensors` saved in checkpoint `path` (its run state and trainer tensors)."""
        if self.disc is None:
            return
        meta = state.get("discriminator")
        if not tensors or not meta:
            raise ValueError(f"{path} holds no FactorVAE discriminator state, so it cannot be resumed exactly "
                             "(saved without optimizer state?); train a new run instead")
        self.disc.load_state_tensors(tensors, meta)
