"""How broad q(z|x) is against the true posterior, for 2-d models side by side (e.g. an ELBO and an
IWAE twin): means over the first N test images (statically binarised, seed 0, when the model was
trained on binarised data) of q's and p(z|x)'s standard deviations, the ratio of their 1-sigma areas
(geometric mean; > 1: q broader), the gap KL(q || p(z|x)), the ELBO and log p(x) by quadrature.

    python bench/posterior_width.py assets/mnist-2d-small assets/mnist-2d-small-iwae --data-dir ../shared/datasets/mnist --n 20
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vae import load_model  # noqa: E402
from vae.analysis.likelihood import static_binarize  # noqa: E402
from vae.analysis.posterior_width import posterior_width_summary  # noqa: E402
from vae.train import load_training_data  # noqa: E402
from vae.config import TrainConfig  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="checkpoint folders of 2-d models")
    p.add_argument("--data-dir", default=None, help="IDX folder of the data set the models were trained on")
    p.add_argument("--n", type=int, default=20, help="test images (default: 20)")
    p.add_argument("--grid-size", type=int, default=151, help="grid points per axis (default: 151)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for run in args.runs:
        model = load_model(run)
        train = TrainConfig.from_dict(model.checkpoint_info["train"])
        data = load_training_data(train, data_dir=args.data_dir)
        images = data.test.images[:args.n]
        if train.binarize != "none":
            images = static_binarize(images, 0)
        summary = posterior_width_summary(model, images, grid_size=args.grid_size)
        rows.append({"run": run, "objective": f"iwae k={train.k}" if train.objective == "iwae" else "elbo",
                     **summary})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'run':<32} {'objective':>10} {'sd q':>7} {'sd p(z|x)':>9} {'area q/p':>8} {'gap':>7} {'ELBO':>9} "
          f"{'log p(x)':>9}   (means over {args.n} test images; nats)")
    for r in rows:
        print(f"{r['run']:<32} {r['objective']:>10} {r['q_sd']:>7.4f} {r['posterior_sd']:>9.4f} "
              f"{r['area_ratio']:>8.3f} {r['kl_q_to_posterior']:>7.3f} {r['elbo']:>9.3f} {r['log_px']:>9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
