"""How fast is the IWAE evaluation? Images per second for K importance samples, as a table.

    python bench/iwae_eval.py                       # MNIST-sized MLP VAE (784-400-20), on the best device
    python bench/iwae_eval.py --arch conv --n 32    # the conv VAE
    python bench/iwae_eval.py --device cpu --ks 100 1000

Rows: the batched estimator (vae.analysis.likelihood.iwae_log_likelihood, several memory budgets) against a
baseline in the same run: the naive loop that decodes one sample per image at a time. Ratios are
against that baseline at the same K, so the numbers mean something on a noisy shared machine.
The model is randomly initialised (speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vae import VAE, ModelConfig, pick_device  # noqa: E402
from vae.analysis.likelihood import MAX_ELEMENTS, iwae_log_likelihood  # noqa: E402
from vae.densities import log_diag_normal, log_standard_normal  # noqa: E402


@torch.inference_mode()
def naive_iwae(model: VAE, x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """The textbook loop: one decoder call per sample. x (B, C, H, W) -> (B,)."""
    mu, logvar = model.encode(x)
    log_w = []
    for _ in range(k):
        z = model.reparameterize(mu, logvar, generator)
        log_w.append(model.log_px_given_z(x, z) + log_standard_normal(z) - log_diag_normal(z, mu, logvar))
    return torch.logsumexp(torch.stack(log_w), 0) - math.log(k)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn, device, repeats: int = 1) -> float:
    """Best wall time of `repeats` runs, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", choices=("mlp", "conv"), default="mlp")
    ap.add_argument("--n", type=int, default=64, help="images evaluated per timing")
    ap.add_argument("--ks", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--naive-max-k", type=int, default=100, help="skip the naive loop above this K (slow)")
    args = ap.parse_args()

    device = pick_device(args.device)
    torch.manual_seed(0)
    cfg = ModelConfig(arch=args.arch, image_size=28, latent_dim=20,
                      hidden=(400,) if args.arch == "mlp" else (256,))
    model = VAE(cfg).to(device).eval()
    x = torch.rand(args.n, *cfg.image_shape, device=device)
    budgets = [("2^22", 2**22), ("2^24 (default)", MAX_ELEMENTS), ("2^26", 2**26)]

    print(f"IWAE evaluation: {cfg.arch} VAE, {model.num_parameters():,} parameters, {args.n} images "
          f"{tuple(cfg.image_shape)}, device {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    iwae_log_likelihood(model, x[:2], 4)          # warm-up (allocator, kernels)
    header = f"{'K':>6}  {'method':<30}{'seconds':>9}{'images/s':>11}{'samples/s':>12}{'vs naive':>10}"
    print(header)
    print("-" * len(header))
    for k in args.ks:
        base = None
        if k <= args.naive_max_k:
            t = timed(lambda: naive_iwae(model, x, k, torch.Generator(device=device).manual_seed(0)), device)
            base = t
            print(f"{k:>6}  {'naive loop (baseline)':<30}{t:>9.3f}{args.n / t:>11.1f}{args.n * k / t:>12.0f}"
                  f"{'1.00x':>10}")
        for name, budget in budgets:
            t = timed(lambda: iwae_log_likelihood(model, x, k, max_elements=budget,
                                                  generator=torch.Generator(device=device).manual_seed(0)),
                      device, repeats=2 if k <= 100 else 1)
            ratio = f"{base / t:.2f}x" if base else "-"
            print(f"{k:>6}  {'batched, budget ' + name:<30}{t:>9.3f}{args.n / t:>11.1f}{args.n * k / t:>12.0f}"
                  f"{ratio:>10}")


if __name__ == "__main__":
    main()
