"""Scoring the test split during training: `evaluate_test_split`, the negative ELBO (beta = 1) in
nats per image, summed over pixels, averaged over the test images. The Trainer calls it once per epoch.

    TEST_BINARIZE_SEED   the test split's fixed binarisation draw
    EVAL_BATCH           images per forward pass when scoring the test split (divided by k for IWAE)
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from vae.objectives import step_sums
from vae.train.inputs import _mix

__all__ = ["evaluate_test_split", "TEST_BINARIZE_SEED", "EVAL_BATCH"]

TEST_BINARIZE_SEED = 0   # the test split's fixed binarisation draw (same as vae.analysis.likelihood.evaluate_model)
EVAL_BATCH = 1000        # images per forward pass when scoring the test split


@torch.inference_mode()
def evaluate_test_split(model: torch.nn.Module, x_test: torch.Tensor, config, objective: dict,
                        distributed, device: torch.device) -> dict[str, float]:
    """Negative ELBO (beta = 1) of `x_test` ((M, C, H, W) float on `device`), nats per image:
    {"loss", "recon", "kl"}, and for an IWAE run ("objective" = {"objective": "iwae", "k": k}, VAE.forward's kwargs)
    "iwae_loss", the negative k-sample bound (recon then averages the k samples).

    Reparameterised samples from a fixed seed (config.seed), so the same weights score the same.
    Under torchrun (`distributed.enabled`) each rank scores a shard and the sums are all-reduced.
    The model is left in training mode.
    """
    model.eval()
    x = x_test
    if distributed.enabled:
        x = x[distributed.rank::distributed.world_size]
    gen = torch.Generator(device=device).manual_seed(_mix(config.seed, 0x7E57))
    sums = torch.zeros(3, device=device)
    batch = max(1, EVAL_BATCH // config.k) if objective else EVAL_BATCH
    for i in range(0, len(x), batch):
        sums += step_sums(model(x[i:i + batch], beta=1.0, generator=gen, **objective))
    n = torch.tensor(float(len(x)), device=device)
    if distributed.enabled:
        both = torch.cat([sums, n[None]])
        dist.all_reduce(both)
        sums, n = both[:3], both[3]
    model.train()
    recon, kl, iwae, n = (*sums.tolist(), max(float(n), 1.0))
    return {"loss": (recon + kl) / n, "recon": recon / n, "kl": kl / n,
            **({"iwae_loss": iwae / n} if objective else {})}
