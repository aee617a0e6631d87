"""For a session that is lent a GPU: the CUDA throughput table and the likelihood recipes, in one call.

Written to run once on a CUDA machine within a few minutes (tested on the CPU with `--tiny`):

  1. throughput  the 784-400-20 MLP of bench/train_throughput.py (continuous MNIST, one sample) trained
                 by vae.train.Trainer at batch 100, 128 and 1024 (learning rate scaled by sqrt(B / 128)
                 above 128), eager and, with --compile, under torch.compile; per row the training
                 images/s of the last epoch, the ratio to the batch-128 eager row of the same run, and
                 the test loss (negative ELBO, nats per image) after the same number of epochs, so a
                 fast batch size that learns worse shows it.
  2. recipes     Burda et al.'s MLP (784-200-200-50 tanh, Bernoulli, dynamic binarisation, batch 20,
                 `--lr-schedule burda`) trained with the ELBO and with IWAE k=5, and a conv candidate
                 for the conv goal (two stride-2 convs of 64 and 128 channels, latent 50, IWAE k=5,
                 batch 100, the same schedule), each for --recipe-minutes of wall time, checkpointing
                 every epoch under OUT/results/NAME; a run that exists in results/NAME of the repository
                 (the CPU legs) is resumed from it exactly, else started afresh, and one whose schedule
                 has finished there is left out. Stopped cleanly at the deadline (Trainer.stop), then
                 scored: test ELBO and IWAE with --eval-k samples (K = 5000 for the README's table).
  3. summary     OUT/gpu_recipes.json with every number, and the tables on stdout.

    python bench/gpu_recipes.py --device cuda --out "$OUT" --recipe-minutes 3 --compile
    python bench/gpu_recipes.py --device cpu --tiny --out /tmp/gpu-recipes-test      # the CPU check

Copy OUT/results/NAME back over results/NAME to keep a leg (each file must stay under 16 MiB) and
add the leg to results/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vae import ModelConfig, TrainConfig, load_model, pick_device  # noqa: E402
from vae.analysis.likelihood import evaluate_model  # noqa: E402
from vae.data import load_dataset  # noqa: E402
from vae.data.datasets import Split  # noqa: E402
from vae.train import Trainer, make_model  # noqa: E402

BURDA_MODEL = ModelConfig(hidden=(200, 200), latent_dim=50, activation="tanh")
# A conv candidate for the goal of 83 nats: 1.2 M parameters, so that its Adam state (9.2 MiB) stays
# under the device's 16 MiB per file and every leg can come back and be committed. Not trained yet:
# one IWAE k=5 epoch (batch 100) takes about 134 s on one CPU core, 3,280 of them about five days.
CONV_MODEL = ModelConfig(arch="conv", latent_dim=50, hidden=(), conv_channels=(64, 128))
RECIPES = {   # name -> (model, TrainConfig fields beside the shared Burda recipe)
    "mnist-burda-vae": (BURDA_MODEL, {}),
    "mnist-burda-iwae5": (BURDA_MODEL, {"objective": "iwae", "k": 5}),
    "mnist-conv-iwae5": (CONV_MODEL, {"objective": "iwae", "k": 5, "batch_size": 100}),
}


def throughput(dataset, device, batches, epochs: int, compile_too: bool) -> list[dict]:
    rows = []
    for compiled in ([False, True] if compile_too else [False]):
        for b in batches:
            lr = 1e-3 * math.sqrt(b / 128) if b > 128 else 1e-3
            config = TrainConfig(dataset="mnist", epochs=epochs, batch_size=b, lr=lr, seed=1, binarize="none",
                                 device=str(device))
            trainer = Trainer(make_model(ModelConfig(hidden=(400,), latent_dim=20), seed=1), dataset, config,
                              device=device, save_optimizer=False)
            if compiled:
                trainer.net = torch.compile(trainer.model)
            t0 = time.perf_counter()
            try:
                last = trainer.run()[-1]
            except Exception as e:   # e.g. no compiler for torch.compile: report it, keep the other rows
                print(f"  batch {b:>5} {'compiled' if compiled else 'eager':>8}: failed: {type(e).__name__}: {e}",
                      flush=True)
                continue
            rows.append({"batch": b, "lr": lr, "compiled": compiled, "samples_per_s": last["samples_per_s"],
                         "test_loss": last["test_loss"], "epochs": epochs, "wall_s": time.perf_counter() - t0})
            print(f"  batch {b:>5} {'compiled' if compiled else 'eager':>8}: {last['samples_per_s']:>12,.0f} "
                  f"images/s, test loss {last['test_loss']:.2f} after {epochs} epochs", flush=True)
    base = next((r["samples_per_s"] for r in rows if r["batch"] == 128 and not r["compiled"]), None)
    for r in rows:
        r["ratio_to_b128_eager"] = r["samples_per_s"] / base if base else None
    return rows


def finished_in_repository(name: str) -> bool:
    """True when results/NAME of the repository has trained its whole schedule (nothing left to run)."""
    path = ROOT / "results" / name / "config.json"
    if not path.is_file():
        return False
    state = json.loads(path.read_text()).get("state", {})
    return state.get("status") == "finished"


def run_recipe(name: str, dataset, device, out: Path, minutes: float, epochs: int, tiny: bool) -> dict:
    dest = out / "results" / name
    start = ROOT / "results" / name
    if start.is_dir() and (start / "optimizer.safetensors").is_file() and not tiny:
        shutil.copytree(start, dest, dirs_exist_ok=True)
        trainer = Trainer.resume(dest, dataset, device=device)
        how = f"resumed from results/{name} after epoch {trainer.epoch}"
    else:
        model_config, fields = RECIPES[name]
        fields = {"batch_size": 20, **fields}
        config = TrainConfig(dataset="mnist", epochs=epochs, lr=1e-3, lr_schedule="burda", binarize="dynamic",
                             seed=1, device=str(device), **fields)
        trainer = Trainer(make_model(model_config, seed=1), dataset, config, out_dir=dest, device=device)
        how = "started afresh"
    epoch0, deadline = trainer.epoch, time.monotonic() + 60 * minutes
    trainer.add_callback("on_epoch_end", lambda t, rec: t.stop() if time.monotonic() > deadline else None)
    print(f"  {name}: {how} on {device}, up to {minutes:g} min", flush=True)
    t0 = time.perf_counter()
    trainer.run()
    wall = time.perf_counter() - t0
    last = trainer.history[-1] if trainer.history else {}
    return {"name": name, "how": how, "device": str(device), "epochs_before": epoch0, "epochs": trainer.epoch,
            "wall_s": wall, "status": trainer.status, "test_loss": last.get("test_loss"),
            "test_iwae_loss": last.get("test_iwae_loss"), "checkpoint": str(dest)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (default), cpu for the check")
    p.add_argument("--out", default=os.environ.get("OUT", "runs/gpu-recipes"), help="output folder (default: $OUT)")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets" / "mnist"),
                   help="MNIST IDX folder (default: ../shared/datasets/mnist)")
    p.add_argument("--throughput-epochs", type=int, default=3, help="epochs per throughput row (default: 3)")
    p.add_argument("--batches", type=int, nargs="+", default=[100, 128, 1024])
    p.add_argument("--compile", action="store_true", help="add torch.compile rows to the throughput table")
    p.add_argument("--recipes", nargs="*", choices=list(RECIPES),
                   help="which (default: every recipe whose results/NAME has not finished its schedule)")
    p.add_argument("--recipe-minutes", type=float, default=3.0, help="wall time per recipe (default: 3)")
    p.add_argument("--eval-k", type=int, default=5000, help="IWAE samples for the final test score (default: 5000)")
    p.add_argument("--tiny", action="store_true", help="a few hundred images and one epoch each: the CPU check")
    args = p.parse_args(argv)
    if args.recipes is None:
        args.recipes = [name for name in RECIPES if args.tiny or not finished_in_repository(name)]
    device = pick_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset("mnist", data_dir=args.data_dir)
    if args.tiny:   # the first 500 / 200 images
        dataset = dataclasses.replace(dataset, train=Split(dataset.train.images[:500], dataset.train.labels[:500]),
                                      test=Split(dataset.test.images[:200], dataset.test.labels[:200]))
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    print(f"device {device} {gpu or ''}, torch {torch.__version__}, MNIST {len(dataset.train)} / {len(dataset.test)}",
          flush=True)
    summary: dict = {"device": str(device), "gpu": gpu, "torch": torch.__version__, "tiny": args.tiny}

    print("throughput (784-400-20 MLP, continuous MNIST):", flush=True)
    summary["throughput"] = throughput(dataset, device, args.batches, 1 if args.tiny else args.throughput_epochs,
                                       args.compile)
    _write(out, summary)
    print("recipes:", flush=True)
    summary["recipes"] = []
    for name in args.recipes:
        row = run_recipe(name, dataset, device, out, args.recipe_minutes, 1 if args.tiny else 3280, args.tiny)
        model = load_model(row["checkpoint"])
        k = 5 if args.tiny else args.eval_k
        scores = evaluate_model(model, dataset.test.images, iwae_samples=k, binarize="static", device=device)
        row.update(test_elbo=scores["elbo"], test_iwae=scores["iwae"], eval_k=k)
        summary["recipes"].append(row)
        _write(out, summary)
    print()
    print(f"{'batch':>5} {'mode':>8} {'images/s':>12} {'ratio':>6} {'test loss':>9}")
    for r in summary["throughput"]:
        ratio = f"{r['ratio_to_b128_eager']:.2f}" if r["ratio_to_b128_eager"] else "-"
        print(f"{r['batch']:>5} {'compiled' if r['compiled'] else 'eager':>8} {r['samples_per_s']:>12,.0f} "
              f"{ratio:>6} {r['test_loss']:>9.2f}")
    print()
    print(f"{'recipe':<20} {'epochs':>13} {'wall s':>7} {'ELBO':>9} {'IWAE':>9} {'K':>5}")
    for r in summary["recipes"]:
        print(f"{r['name']:<20} {r['epochs_before']:>5} -> {r['epochs']:>5} {r['wall_s']:>7.0f} "
              f"{r['test_elbo']:>9.2f} {r['test_iwae']:>9.2f} {r['eval_k']:>5}")
    print(f"\nwrote {out / 'gpu_recipes.json'}")
    return 0


def _write(out: Path, summary: dict) -> None:
    tmp = out / "gpu_recipes.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    tmp.replace(out / "gpu_recipes.json")


if __name__ == "__main__":
    raise SystemExit(main())
