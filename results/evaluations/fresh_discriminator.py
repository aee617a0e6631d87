"""Total correlation of a model's codes as a fresh FactorVAE discriminator sees it: is a FactorVAE's low TC
estimate (its own discriminator's loss near ln 2) a factorised code or a weak discriminator?

    python results/evaluations/fresh_discriminator.py runs/shapes-objectives/objective-*

For each checkpoint (trained on shapes): z ~ q(z|x) for the first 20,000 training images (seed 0), a new
discriminator (vae.train.discriminator: 256-256-256, Adam lr 1e-3, betas 0.5, 0.9) trained for 2,000 steps of
256 codes from the first 16,000, and its TC estimate E[logit_real - logit_fake] (nats) on the other 4,000.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from vae import load_model  # noqa: E402
from vae.data import load_dataset  # noqa: E402
from vae.train.discriminator import FactorDiscriminator  # noqa: E402


def fresh_tc(run: str, images: torch.Tensor, steps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """(last discriminator loss, held-out TC estimate in nats) for the checkpoint `run`."""
    model = load_model(run, device="cpu").eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        mu, logvar = model.encode(images)
        z = mu + torch.randn(mu.shape, generator=g) * (0.5 * logvar).exp()
    disc = FactorDiscriminator(latent_dim=z.shape[1], hidden=(256, 256, 256), lr=1e-3, seed=seed, device="cpu")
    train, test = z[:16000], z[16000:]
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        loss = disc.update(train[torch.randint(0, len(train), (256,), generator=g)], g)
    with torch.no_grad():
        return float(loss), disc.penalty(test).mean().item()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="checkpoint folders of models trained on shapes")
    p.add_argument("--steps", type=int, default=2000)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ds = load_dataset("shapes")
    images = ds.train.images[:20000]
    images = images.float() / 255 if images.dtype == torch.uint8 else images
    print("| model | discriminator loss (ln 2 = 0.693) | TC estimate, nats |")
    print("| --- | --- | --- |")
    for run in args.runs:
        loss, tc = fresh_tc(run, images, steps=args.steps)
        print(f"| {Path(run).name} | {loss:.4f} | {tc:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
