"""Does the conv decoder's channels-last layout pay on a CPU? A table of ratios, same run.

    python bench/conv_layout.py                 # the MNIST conv recipe (latent 32, fc 512, convs 32 64)
    python bench/conv_layout.py --threads 2 --repeats 10

Rows: decoding a batch of latents (what the IWAE evaluation and the Decode page do) and one
training step (forward and backward, batch 100), with the transposed convs fed NCHW tensors
(baseline, PyTorch's default) and channels-last tensors (vae.model.ConvDecoder on a CPU).
The two layouts give the same numbers; the bench checks that too. Weights are random.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vae import VAE, ModelConfig  # noqa: E402
from vae.model import ConvDecoder  # noqa: E402
from iwae_eval import timed  # noqa: E402  (bench/ is on sys.path when run as a script)

CPU = torch.device("cpu")


def seconds(fn, repeats: int) -> float:
    """Best wall time of fn() over `repeats` calls, after one warm-up call (oneDNN picks its kernels)."""
    fn()
    return timed(fn, CPU, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--decode-batch", type=int, default=2048)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="conv", latent_dim=32, hidden=(512,), conv_channels=(32, 64)))
    z = torch.randn(args.decode_batch, 32)
    x = (torch.rand(100, 1, 28, 28) < 0.2).float()

    def decode():
        with torch.inference_mode():
            return model.decoder(z)

    def train_step():
        model.zero_grad(set_to_none=True)
        model(x).loss.backward()

    rows, outputs = [], {}
    for what, fn, n in (("decode", decode, args.decode_batch), ("train step", train_step, len(x))):
        timed = {}
        for layout in (False, True):
            ConvDecoder.cpu_channels_last = layout
            timed[layout] = seconds(fn, args.repeats)
            if what == "decode":
                outputs[layout] = decode()
        rows.append((what, n, timed[False], timed[True]))
    ConvDecoder.cpu_channels_last = True
    same = torch.equal(outputs[False], outputs[True])

    print(f"conv decoder layout on CPU, {args.threads} thread(s), best of {args.repeats}")
    print(f"{'what':<12}{'images':>8}{'NCHW img/s':>14}{'channels-last img/s':>22}{'ratio':>8}")
    for what, n, base, ours in rows:
        print(f"{what:<12}{n:>8}{n / base:>14.0f}{n / ours:>22.0f}{base / ours:>7.2f}x")
    print(f"decoded logits identical in both layouts: {same}")


if __name__ == "__main__":
    main()
