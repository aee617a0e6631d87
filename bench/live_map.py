"""What the Train page's live latent map costs the training: epoch time with and without it.

    python bench/live_map.py [--data-dir ../shared/datasets/mnist] [--reps 2] [--threads 1]

Runs the real path (vae.train.job.TrainingJob, as the Train page does) with live_map=False (the
baseline) and live_map=True, alternating A B A B so machine load hits both alike, and prints the
median seconds per epoch of each and their ratio. Digits always; MNIST when --data-dir has it.
Also reports the frames captured and the seconds the captures took.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from vae.config import ModelConfig, TrainConfig  # noqa: E402
from vae.train.job import TrainingJob  # noqa: E402
from vae.train.inputs import load_training_data  # noqa: E402


def one_run(model_config: ModelConfig, train_config: TrainConfig, dataset, live: bool) -> dict:
    job = TrainingJob(model_config, train_config, dataset, device="cpu", live_map=live)
    t0 = time.perf_counter()
    job.start()
    job.wait()
    wall = time.perf_counter() - t0
    snap = job.snapshot()
    if snap.state != "finished":
        raise RuntimeError(f"training {snap.state}: {snap.error}")
    data = snap.live_map
    return {"s_per_epoch": wall / train_config.epochs, "frames": len(data.frames) if data else 0,
            "capture_s": data.overhead_s if data else 0.0}


def bench(name: str, model_config: ModelConfig, train_config: TrainConfig, reps: int) -> dict:
    dataset = load_training_data(train_config)
    one_run(model_config, TrainConfig(**{**train_config.to_dict(), "epochs": 1}), dataset, False)   # warm-up
    runs = {False: [], True: []}
    for _ in range(reps):
        for live in (False, True):
            runs[live].append(one_run(model_config, train_config, dataset, live))
    base = statistics.median(r["s_per_epoch"] for r in runs[False])
    with_map = statistics.median(r["s_per_epoch"] for r in runs[True])
    return {"name": name, "epochs": train_config.epochs, "base": base, "live": with_map, "ratio": with_map / base,
            "frames": statistics.median(r["frames"] for r in runs[True]),
            "capture_s": statistics.median(r["capture_s"] for r in runs[True])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "datasets" / "mnist"))
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cases = [("digits MLP 64-128-2, 20 epochs",
              ModelConfig(image_size=8, latent_dim=2, hidden=(128,)),
              TrainConfig(dataset="digits", epochs=20, batch_size=128, seed=0)),
             ("digits MLP 64-128-8 (PCA), 20 ep",
              ModelConfig(image_size=8, latent_dim=8, hidden=(128,)),
              TrainConfig(dataset="digits", epochs=20, batch_size=128, seed=0))]
    if (Path(args.data_dir) / "t10k-images-idx3-ubyte.gz").is_file():
        cases += [("MNIST MLP 784-400-2, 2 epochs",
                   ModelConfig(latent_dim=2, hidden=(400,)),
                   TrainConfig(dataset="mnist", data_dir=args.data_dir, epochs=2, batch_size=128, seed=0)),
                  ("MNIST MLP 784-400-20 (PCA), 2 ep",
                   ModelConfig(latent_dim=20, hidden=(400,)),
                   TrainConfig(dataset="mnist", data_dir=args.data_dir, epochs=2, batch_size=128, seed=0))]
    else:
        print(f"MNIST not found in {args.data_dir}: digits only")
    print(f"{'case':34} {'s/epoch base':>12} {'s/epoch live':>12} {'ratio':>6} {'frames':>6} {'capture s':>9} "
          f"{'share':>6}")
    for name, mc, tc in cases:
        r = bench(name, mc, tc, args.reps)
        share = r["capture_s"] / (r["live"] * r["epochs"])
        print(f"{r['name']:34} {r['base']:12.3f} {r['live']:12.3f} {r['ratio']:6.3f} {r['frames']:6.0f} "
              f"{r['capture_s']:9.3f} {share:6.1%}", flush=True)
    print("ratio = median s/epoch with the live map / without it (1.00 = free; the aim is < 1.10); share = the "
          "captures' own time / the training's wall time, which the ratio measures up to the machine's noise. "
          f"{args.reps} alternating runs each, {args.threads} thread(s), TrainingJob on the CPU.")


if __name__ == "__main__":
    main()
