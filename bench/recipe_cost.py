"""What a training recipe costs per epoch on this machine: the likelihood recipes side by side.

Times full training steps (forward, backward, Adam) of each model and objective on random binary
images at batch 100, after a few warm-up steps, and prints seconds per 60,000-image epoch and the ratio
to the first row (Burda et al.'s MLP on the ELBO), all measured in the same run. It answers "can this
machine train that recipe to the end?" before starting a run of days.

    python bench/recipe_cost.py [--device auto] [--threads 1] [--steps 15]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vae import ModelConfig, pick_device  # noqa: E402
from vae.objectives import iwae_output  # noqa: E402
from vae.train import make_model  # noqa: E402
from gpu_recipes import BURDA_MODEL, CONV_MODEL  # noqa: E402  (bench/, this script's folder)

CONV_DYNAMIC = ModelConfig(arch="conv", latent_dim=32, hidden=(512,), conv_channels=(32, 64))
ROWS = [   # (name, model, k: 1 is the ELBO)
    ("Burda's MLP 784-200-200-50, ELBO", BURDA_MODEL, 1),
    ("Burda's MLP, IWAE k=5", BURDA_MODEL, 5),
    ("conv 32-64, fc 512, latent 32 (mnist-conv-dynamic), ELBO", CONV_DYNAMIC, 1),
    ("conv 32-64, fc 512, latent 32, IWAE k=5", CONV_DYNAMIC, 5),
    ("conv 64-128, fc 512, latent 50, IWAE k=5",
     ModelConfig(arch="conv", latent_dim=50, hidden=(512,), conv_channels=(64, 128)), 5),
    ("conv 64-128, no fc, latent 50 (mnist-conv-iwae5), IWAE k=5", CONV_MODEL, 5),
]


def seconds_per_epoch(config: ModelConfig, k: int, device: torch.device, steps: int, batch: int = 100) -> float:
    """Wall seconds of the training steps of one 60,000-image epoch at `batch` (no data loading)."""
    model = make_model(config, seed=1).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, 1, 28, 28, generator=g) < 0.2).float().to(device)

    def step() -> None:
        out = iwae_output(model, x, k) if k > 1 else model(x)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()

    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) / steps * (60_000 / batch)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default: 1)")
    p.add_argument("--steps", type=int, default=15, help="timed steps per row (default: 15)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"device {device}, {args.threads} thread(s), batch 100, {args.steps} timed steps per row")
    print(f"{'recipe':<62} {'s/epoch':>8} {'ratio':>6} {'3,280 epochs':>13}")
    base = None
    for name, config, k in ROWS:
        s = seconds_per_epoch(config, k, device, args.steps)
        base = base or s
        print(f"{name:<62} {s:>8.1f} {s / base:>6.1f} {s * 3280 / 3600:>11.1f} h", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
