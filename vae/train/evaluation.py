"""Scoring the test split during training: `EvaluationMixin.evaluate`, the negative ELBO (beta = 1)
in nats per image, summed over pixels, averaged over the test images.

`EvaluationMixin` is a part of `vae.train.trainer.Trainer`; `evaluate` reads the trainer's `model`,
`x_test` ((M, C, H, W) float on the device, binarised with TEST_BINARIZE_SEED unless the recipe
says binarize "none"), `config` (seed, k), `_objective` (VAE.forward kwargs: {"k": k} for an IWAE
run), `dist` and `device`.

    TEST_BINARIZE_SEED   the test split's fixed binarisation draw
    EVAL_BATCH           images per forward pass when scoring the test split (divided by k for IWAE)
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from vae.objectives import step_sums
from vae.train.inputs import _mix

__all__ = ["EvaluationMixin", "TEST_BINARIZE_SEED", "EVAL_BATCH"]

TEST_BINARIZE_SEED = 0   # the test split's fixed binarisation draw (same as vae.analysis.likelihood.evaluate_model)
EVAL_BATCH = 1000        # images per forward pass when scoring the test split


class EvaluationMixin:
    """The test-split score of a Trainer, once per epoch."""

    @torch.inference_mode()
    def evaluate(self) -> dict[str, float]:
        """Negative ELBO (beta = 1) of the test split, nats per image: {"loss", "recon", "kl"}, and
        for an IWAE run "iwae_loss", the negative k-sample bound (recon then averages the k samples).

        Reparameterised samples from a fixed seed, so the same weights score the same.
        Under torchrun each rank scores a shard and the sums are all-reduced.
        """
        self.model.eval()
        x = self.x_test
        if self.dist.enabled:
            x = x[self.dist.rank::self.dist.world_size]
        gen = torch.Generator(device=self.device).manual_seed(_mix(self.config.seed, 0x7E57))
        sums = torch.zeros(3, device=self.device)
        batch = max(1, EVAL_BATCH // self.config.k) if self._objective else EVAL_BATCH
        for i in range(0, len(x), batch):
            sums += step_sums(self.model(x[i:i + batch], beta=1.0, generator=gen, **self._objective))
        n = torch.tensor(float(len(x)), device=self.device)
        if self.dist.enabled:
            both = torch.cat([sums, n[None]])
            dist.all_reduce(both)
            sums, n = both[:3], both[3]
        self.model.train()
        recon, kl, iwae, n = (*sums.tolist(), max(float(n), 1.0))
        return {"loss": (recon + kl) / n, "recon": recon / n, "kl": kl / n,
                **({"iwae_loss": iwae / n} if self._objective else {})}
