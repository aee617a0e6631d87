"""The command line: `python -m vae train | evaluate | sample`.

    python -m vae train --dataset digits --hidden 64 --latent-dim 2 --epochs 20 --out runs/digits
    python -m vae evaluate runs/digits --iwae-samples 100
    python -m vae sample runs/digits --n 64 --out grid.png

Every expected failure (bad checkpoint, unknown data set, impossible model) prints one line,
"error: ...", on stderr and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .config import ACTIVATIONS, LR_SCHEDULES, OBJECTIVES, RESUMABLE_SCHEDULE_FIELDS

EXIT_USAGE = 2
_TABLE = [("epoch", "{:>5d}", 5), ("train loss", "{:>10.3f}", 10), ("test loss", "{:>10.3f}", 10),
          ("recon", "{:>9.3f}", 9), ("kl", "{:>7.3f}", 7), ("beta", "{:>5.2f}", 5),
          ("seconds", "{:>8.1f}", 8), ("images/s", "{:>9.0f}", 9), ("test iwae", "{:>9.3f}", 9)]
_TABLE_KEYS = ["epoch", "train_loss", "test_loss", "recon", "kl", "beta", "seconds", "samples_per_s",
               "test_iwae_loss"]   # the last: negative IWAE_k bound of an --objective iwae run, else "-"


class CLIError(Exception):
    """An expected failure: printed as one line, exit status 2."""


# ---------------------------------------------------------------------------------------------
# argument parsing
# ---------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from .config import TrainConfig

    d = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m vae", description="Train, evaluate and sample variational autoencoders.",
        epilog="Run `python -m vae COMMAND --help` for the options of each command.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    t = sub.add_parser(
        "train", help="train a VAE and write a checkpoint folder",
        description="Train a VAE with Adam and write a checkpoint folder (config.json, model.safetensors, "
                    "metrics.jsonl) after every epoch. Losses are in nats per image (summed over pixels). "
                    "Ctrl-C stops after the current step and saves; continue later with --resume.",
        epilog="example: python -m vae train --dataset digits --hidden 64 --latent-dim 2 --epochs 20 "
               "--out runs/digits-2d")
    g = t.add_argument_group("data")
    g.add_argument("--dataset", default=None, metavar="NAME",
                   help=f"digits (8x8, bundled), shapes (32x32, generated), mnist, fashion-mnist, or "
                        f"folder:PATH (a folder of images, one subfolder per class) (default: {d.dataset})")
    g.add_argument("--data-dir", default=None, metavar="DIR",
                   help="folder holding the 4 MNIST IDX files (e.g. ~/data/mnist); "
                        "default: the download cache")
    g.add_argument("--image-size", type=int, default=None, metavar="PIXELS",
                   help="resize images to PIXELS x PIXELS (default: the data set's own size)")
    g.add_argument("--n-train", type=int, default=None, metavar="N",
                   help="shapes only: number of generated training images (default: 20000)")
    g.add_argument("--n-test", type=int, default=None, metavar="N",
                   help="shapes / digits only: number of test images (default: 2000 / 300)")
    g.add_argument("--binarize", choices=("none", "static", "dynamic"), default=None,
                   help="train on grey levels (none), one fixed Bernoulli draw (static) or a fresh draw "
                        f"every epoch (dynamic) (default: {d.binarize})")
    g = t.add_argument_group("model")
    g.add_argument("--arch", choices=("mlp", "conv"), default="mlp",
                   help="mlp (fully connected, any image size) or conv (28, 32 or 64 pixels) (default: mlp)")
    g.add_argument("--hidden", type=int, nargs="+", default=None, metavar="WIDTH",
                   help="hidden layer widths of the encoder, the decoder mirrors them, e.g. --hidden 500 500 "
                        "(default: 400; conv: width of its fully connected layer, default 256)")
    g.add_argument("--latent-dim", type=int, default=20, metavar="D",
                   help="dimensions of the latent space z, 2..128 (default: 20)")
    g.add_argument("--conv-channels", type=int, nargs="+", default=None, metavar="C",
                   help="conv only: channels of each stride-2 stage (default: 32 64)")
    g.add_argument("--activation", choices=ACTIVATIONS, default="relu",
                   help="nonlinearity between the fully connected layers; Burda et al.'s MNIST MLP uses tanh "
                        "(default: relu)")
    g.add_argument("--likelihood", choices=("bernoulli", "gaussian"), default="bernoulli",
                   help="p(x|z): bernoulli (cross-entropy) or gaussian with a fixed std of 0.1 (default: bernoulli)")
    g = t.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, default=None, metavar="N",
                   help=f"total passes over the training images; with --resume the run continues up to this "
                        f"total (default: {d.epochs}; with --resume: the recorded total)")
    g.add_argument("--batch-size", type=int, default=None, metavar="B",
                   help=f"images per optimisation step (default: {d.batch_size})")
    g.add_argument("--lr", type=float, default=None, help=f"Adam learning rate (default: {d.lr:g})")
    g.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=None,
                   help="constant, or decay from --lr to --lr-min by the last epoch along half a cosine or "
                        "geometrically, or burda: --lr * 10^(-i/7) for 3^i epochs, i = 0..7 (3280 epochs) "
                        f"(default: {d.lr_schedule}; with --resume it may change from here on)")
    g.add_argument("--lr-min", type=float, default=None,
                   help=f"learning rate at the end of a decaying schedule (default: {d.lr_min:g})")
    g.add_argument("--lr-decay-start", type=int, default=None, metavar="EPOCH",
                   help="epoch after which the schedule starts to decay (default: 0; with --resume, e.g. the "
                        "epoch the run has reached)")
    g.add_argument("--beta", type=float, default=None,
                   help=f"weight of the KL term; 1 is the true ELBO, >1 a beta-VAE (default: {d.beta:g})")
    g.add_argument("--warmup", type=int, default=None, metavar="EPOCHS",
                   help=f"epochs over which the KL weight rises linearly from 0 to beta (default: {d.warmup})")
    g.add_argument("--objective", choices=OBJECTIVES, default=None,
                   help="training loss: elbo, or iwae (Burda et al.'s importance-weighted bound with --k "
                        f"samples per image) (default: {d.objective})")
    g.add_argument("--k", type=int, default=None, metavar="K",
                   help="importance samples per image for --objective iwae, e.g. 5 or 50 (default: 5 with iwae)")
    g.add_argument("--seed", type=int, default=None,
                   help=f"seeds the initial weights, batch order, binarisation and noise (default: {d.seed})")
    g.add_argument("--device", default=None,
                   help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps (default: auto)")
    _add_threads_flag(g)
    g = t.add_argument_group("output")
    g.add_argument("--out", default=None, metavar="DIR",
                   help="checkpoint folder to write (default: runs/DATASET-ARCH-zD; with --resume: the run itself)")
    g.add_argument("--resume", default=None, metavar="RUN",
                   help="continue the run in checkpoint folder RUN with its recorded recipe, model, optimizer "
                        "state and history (recipe flags other than --epochs, the --lr-schedule flags, --device and "
                        "--data-dir are ignored)")
    g.add_argument("--overwrite", action="store_true",
                   help="replace an existing checkpoint in --out (default: refuse, so no run is lost)")
    g.add_argument("--no-optimizer-state", action="store_true",
                   help="leave the Adam state out of the checkpoint: about 3x smaller, but it cannot be resumed")
    g.add_argument("--quiet", action="store_true", help="no progress bar (the epoch table is still printed)")

    e = sub.add_parser(
        "evaluate", help="print the test ELBO (and optionally IWAE) of a checkpoint",
        description="Score a checkpoint on the data set recorded in it: the ELBO and its terms, the IWAE "
                    "bound on log p(x), active units; nats per image (summed over pixels). A model trained "
                    "on binarised images is scored on one fixed Bernoulli draw (seed 0) of the split.")
    e.add_argument("run", metavar="RUN", help="checkpoint folder or .zip")
    e.add_argument("--split", choices=("test", "train"), default="test", help="which split to score (default: test)")
    e.add_argument("--iwae-samples", type=int, default=0, metavar="K",
                   help="importance samples per image for the IWAE bound; 0 skips it (default: 0; try 100)")
    e.add_argument("--data-dir", default=None, metavar="DIR",
                   help="where the data set's files are, if not where the checkpoint says (default: as recorded)")
    e.add_argument("--device", default=None, help="auto, cpu, cuda, mps (default: auto)")
    e.add_argument("--seed", type=int, default=0, help="seed of the latent samples and binarisation (default: 0)")
    e.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    e.add_argument("--factors", action="store_true",
                   help="also the disentanglement metrics against the data's ground-truth factors (shapes): MI "
                        "matrix, MIG, DCI, SAP, FactorVAE score")
    _add_threads_flag(e)

    s = sub.add_parser(
        "sample", help="decode prior samples z ~ N(0, T^2 I) into a PNG grid",
        description="Decode n points drawn from the prior N(0, temperature^2 I) and save the mean images "
                    "as a PNG grid.")
    s.add_argument("run", metavar="RUN", help="checkpoint folder or .zip")
    s.add_argument("--n", type=int, default=64, help="number of images (default: 64)")
    s.add_argument("--out", default="samples.png", metavar="PNG", help="image file to write (default: samples.png)")
    s.add_argument("--temperature", type=float, default=1.0,
                   help="std of the prior draws; <1 gives cleaner, less varied images (default: 1.0)")
    s.add_argument("--seed", type=int, default=0, help="seed of the draws (default: 0)")
    s.add_argument("--scale", type=int, default=None, metavar="K",
                   help="enlarge each image K times (nearest neighbour) (default: to at least 28 pixels)")
    s.add_argument("--device", default=None, help="auto, cpu, cuda, mps (default: auto)")
    _add_threads_flag(s)
    from .cli_factors import add_sweep_parser
    add_sweep_parser(sub, _add_threads_flag)
    return parser


# ---------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------

def _print_table_header() -> None:
    print("  ".join(f"{name:>{w}}" for name, _, w in _TABLE), flush=True)


def _print_table_row(rec: dict[str, Any]) -> None:
    cells = []
    for (name, fmt, w), key in zip(_TABLE, _TABLE_KEYS):
        v = rec.get(key)
        cells.append(fmt.format(v) if isinstance(v, (int, float)) and math.isfinite(v) else f"{'-':>{w}}")
    print("  ".join(cells), flush=True)


def _train_config_from_args(args):
    from .config import TrainConfig

    extra: dict[str, Any] = {}
    if args.image_size is not None:
        extra["image_size"] = args.image_size
    if args.n_train is not None:
        extra["n_train"] = args.n_train
    if args.n_test is not None:
        extra["n_test"] = args.n_test
    given = {k: getattr(args, k) for k in ("dataset", "data_dir", "epochs", "batch_size", "lr", "beta",
                                           "warmup", "binarize", "objective", "k", "seed", "device",
                                           *RESUMABLE_SCHEDULE_FIELDS)
             if getattr(args, k) is not None}
    if given.get("objective") == "iwae" and "k" not in given:
        given["k"] = 5
    return TrainConfig(**given, extra=extra)


def _model_config_from_args(args, image_shape):
    from .config import ModelConfig

    c, h, w = image_shape
    if h != w:
        raise CLIError(f"images must be square, the data set holds {h}x{w}; pass --image-size")
    kw: dict[str, Any] = {"arch": args.arch, "channels": c, "image_size": h, "latent_dim": args.latent_dim,
                          "likelihood": args.likelihood, "activation": args.activation}
    if args.hidden is not None:
        kw["hidden"] = tuple(args.hidden)
    elif args.arch == "conv":
        kw["hidden"] = (256,)
    if args.conv_channels is not None:
        kw["conv_channels"] = tuple(args.conv_channels)
    elif args.arch == "conv" and h == 64:
        kw["conv_channels"] = (32, 32, 64, 64)
    return ModelConfig(**kw)


def _check_out_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        what = "a checkpoint" if (out / "config.json").exists() else "files"
        raise CLIError(f"{out} already holds {what}; continue it with --resume {out}, choose another --out, "
                       "or pass --overwrite")


def _add_threads_flag(group) -> None:
    group.add_argument("--threads", type=int, default=None, metavar="N",
                       help="CPU threads for torch (torch.set_num_threads); 1 is often fastest for small models "
                            "on a busy machine (default: torch's choice, one per core)")


def _apply_threads(args) -> None:
    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be >= 1, got {args.threads}")
        import torch
        torch.set_num_threads(args.threads)


def cmd_train(args) -> int:
    from .train import Trainer, load_training_data, make_model

    _apply_threads(args)

    if args.resume is not None:
        ignored = [f"--{k.replace('_', '-')}" for k in ("dataset", "image_size", "n_train", "n_test", "binarize",
                                                         "hidden", "conv_channels", "batch_size", "lr", "beta",
                                                         "warmup", "objective", "k", "seed") if getattr(args, k) is not None]
        if ignored:
            print(f"note: resuming with the recipe recorded in {args.resume}; ignoring {' '.join(ignored)}",
                  file=sys.stderr)
        schedule = {k: getattr(args, k) for k in RESUMABLE_SCHEDULE_FIELDS if getattr(args, k) is not None}
        trainer = Trainer.resume(args.resume, epochs=args.epochs, out_dir=args.out, device=args.device,
                                 data_dir=args.data_dir, schedule=schedule,
                                 save_optimizer=not args.no_optimizer_state, overwrite=args.overwrite)
        if trainer.epoch >= trainer.config.epochs and trainer.batch == 0:
            raise CLIError(f"{args.resume} has already trained {trainer.epoch} epochs; pass --epochs N with "
                           f"N > {trainer.epoch} to train more")
    else:
        train_config = _train_config_from_args(args)
        dataset = load_training_data(train_config)
        model_config = _model_config_from_args(args, dataset.image_shape)
        out = Path(args.out) if args.out else Path("runs") / (
            f"{dataset.name.replace(':', '-').replace('/', '-')}-{model_config.arch}-z{model_config.latent_dim}")
        _check_out_dir(out, args.overwrite)
        model = make_model(model_config, seed=train_config.seed)
        trainer = Trainer(model, dataset, train_config, out_dir=out, device=args.device,
                          save_optimizer=not args.no_optimizer_state, overwrite=args.overwrite)
    return _run_trainer(trainer, quiet=args.quiet)


def _run_trainer(trainer, quiet: bool) -> int:
    main = trainer.is_main
    cfg, model = trainer.config, trainer.model
    if main:
        mc = model.config
        print(f"training {mc.arch} VAE (latent {mc.latent_dim}, hidden {list(mc.hidden)}, "
              f"{model.num_parameters():,} parameters) on {trainer.dataset.name} "
              f"{'x'.join(map(str, trainer.dataset.image_shape))} ({len(trainer.dataset.train)} train / "
              f"{len(trainer.dataset.test)} test images), device {trainer.device}"
              + (f", {trainer.dist.world_size} processes" if trainer.dist.enabled else "")
              + f"; writing {trainer.out_dir}", flush=True)
        if trainer.epoch:
            print(f"resuming after epoch {trainer.epoch} (step {trainer.step}) of {cfg.epochs}", flush=True)
        _print_table_header()
        for rec in trainer.history:
            _print_table_row(rec)
    bar = None
    show_bar = main and not quiet

    def on_step(t, info):
        nonlocal bar
        if bar is None:
            from tqdm import tqdm
            bar = tqdm(total=info["batches"], initial=info["batch"] - 1, desc=f"epoch {info['epoch']}/{cfg.epochs}",
                       unit="step", leave=False, dynamic_ncols=True, file=sys.stderr)
        bar.update(1)
        if info["batch"] % 10 == 0 or info["batch"] == info["batches"]:
            bar.set_postfix(loss=f"{info['epoch_loss']:.2f}", refresh=False)   # running mean of the epoch

    def on_epoch(t, rec):
        nonlocal bar
        if bar is not None:
            bar.close()
            bar = None
        _print_table_row(rec)

    if show_bar:
        trainer.add_callback("on_step_end", on_step)
    trainer.add_callback("on_epoch_end", on_epoch)

    previous = None
    if main and not trainer.dist.enabled:
        def on_sigint(signum, frame):
            if trainer._stop.is_set():         # a second Ctrl-C: give up at once
                raise KeyboardInterrupt
            print("\nstopping after this step (Ctrl-C again to abort without saving)...", file=sys.stderr)
            trainer.stop()
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        trainer.run()
    finally:
        if bar is not None:
            bar.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        trainer.close()
    if main:
        if trainer.status == "stopped":
            print(f"stopped at step {trainer.step} (epoch {trainer.epoch + 1}); saved to {trainer.checkpoint_path}; "
                  f"continue with: python -m vae train --resume {trainer.checkpoint_path}", flush=True)
        else:
            last = trainer.history[-1] if trainer.history else {}
            print(f"done: test loss {last.get('test_loss', float('nan')):.3f} nats/image "
                  f"(negative ELBO); checkpoint {trainer.checkpoint_path}", flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------------------------

def _load_run(run: str, device=None):
    from .checkpoint import load_model

    path = Path(run)
    if not path.exists():
        raise CLIError(f"no checkpoint at {run}: no such file or folder")
    return load_model(path, device=device)


def _dataset_for(model, data_dir: str | None, split: str = "train"):
    """The data set a checkpoint was trained on (as recorded in it), and its TrainConfig (or None).

    For the test split of MNIST / Fashion-MNIST only the test files are read (test_only): from
    `data_dir`, else the recorded folder where it exists, else the cache or the bundled copy, so a
    bundled checkpoint is scored offline wherever it was trained.
    """
    from .config import TrainConfig
    from .data import IDX_SOURCES, load_dataset
    from .train import load_training_data

    info = model.checkpoint_info
    if info.get("train"):
        train = TrainConfig.from_dict(info["train"])
    elif info.get("dataset") and info["dataset"].get("name"):
        ds = info["dataset"]
        kwargs = dict(ds.get("kwargs") or {})
        train = TrainConfig(dataset=ds["name"], data_dir=kwargs.pop("data_dir", None), extra=kwargs)
    else:
        raise CLIError("the checkpoint records no data set (no \"train\" or \"dataset\" in config.json), "
                       "so there is nothing to evaluate it on")
    if split == "test" and train.dataset in IDX_SOURCES:
        folder = data_dir or (train.data_dir if train.data_dir and Path(train.data_dir).is_dir() else None)
        dataset = load_dataset(train.dataset, data_dir=folder, test_only=True, **train.extra)
    else:
        dataset = load_training_data(train, data_dir=data_dir)
    if tuple(dataset.image_shape) != tuple(model.config.image_shape):
        raise CLIError(f"data set {dataset.name} holds {tuple(dataset.image_shape)} images but the model takes "
                       f"{tuple(model.config.image_shape)}")
    return dataset, train


def cmd_evaluate(args) -> int:
    from .device import pick_device

    _apply_threads(args)
    device = pick_device(args.device or "auto")
    model = _load_run(args.run, device=device)
    dataset, train = _dataset_for(model, args.data_dir, args.split)
    try:
        from .analysis.likelihood import evaluate_model
    except ImportError as e:
        raise CLIError(f"vae.analysis.likelihood.evaluate_model is not available: {e}") from None
    if args.iwae_samples < 0:
        raise CLIError(f"--iwae-samples must be >= 0, got {args.iwae_samples}")
    split = getattr(dataset, args.split)
    if args.factors and split.factors is None:
        raise CLIError(f"data set {dataset.name} has no ground-truth factors, so --factors has nothing to measure "
                       "against (it needs data with factors, e.g. shapes)")
    binarize = "static" if train.binarize != "none" else "none"
    bar = None
    progress = None
    if not args.json:
        from tqdm import tqdm
        bar = tqdm(total=len(split), unit="img", leave=False, desc="evaluating", file=sys.stderr)

        def progress(done, total):
            bar.update(done - bar.n)
    started = time.perf_counter()
    try:
        result = evaluate_model(model, split.images, iwae_samples=args.iwae_samples, binarize=binarize,
                                seed=args.seed, device=device, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    result = {"run": str(args.run), "dataset": dataset.name, "split": args.split, **result,
              "device": str(device), "seconds": round(time.perf_counter() - started, 4)}
    if args.factors:
        from .cli_factors import factor_metrics_for
        result.update(factor_metrics_for(model, dataset, split=args.split, seed=args.seed))
    if args.json:
        print(json.dumps(result))
        return 0
    mc = model.config
    se = lambda key: f" ± {result[key]:.3f}" if result.get(key) is not None else ""  # noqa: E731
    print(f"{args.run}: {mc.arch} VAE, latent {mc.latent_dim}, on {dataset.name} {args.split} split "
          f"({result['n']} images{', binarised (seed %d)' % args.seed if binarize != 'none' else ''})")
    print("nats per image, summed over pixels")
    print(f"  ELBO            {result['elbo']:10.3f}{se('elbo_se')}")
    print(f"    recon E[log p(x|z)] {result['recon']:10.3f}")
    print(f"    KL(q(z|x)||p(z))    {result['kl']:10.3f}")
    if result.get("iwae") is not None:
        print(f"  IWAE (k={result['k']})  {result['iwae']:10.3f}{se('iwae_se')}   (a tighter bound on log p(x))")
        print(f"  gap IWAE-ELBO   {result['gap']:10.3f}")
    print(f"  active units    {result['active_units']} of {mc.latent_dim}")
    kl_dims = result.get("kl_per_dim") or []
    if kl_dims:
        print("  KL per dim      " + " ".join(f"{v:.2f}" for v in kl_dims))
    if args.factors:
        from .cli_factors import print_factor_table
        print_factor_table(result)
    return 0


# ---------------------------------------------------------------------------------------------
# sample
# ---------------------------------------------------------------------------------------------

def image_grid(images, ncols: int | None = None, pad: int = 2, scale: int = 1):
    """uint8 numpy (n, C, H, W) -> a PIL image of the n images on a grid with `pad` px gaps."""
    import numpy as np
    from PIL import Image

    n, c, h, w = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    if scale > 1:
        images = images.repeat(scale, axis=2).repeat(scale, axis=3)
        h, w = h * scale, w * scale
    grid = np.full((c, nrows * (h + pad) + pad, ncols * (w + pad) + pad), 128, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, ncols)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = images[i]
    return Image.fromarray(grid[0] if c == 1 else grid.transpose(1, 2, 0))


def cmd_sample(args) -> int:
    import torch

    from .checkpoint import atomic_write_bytes
    from .device import pick_device

    if not 1 <= args.n <= 4096:
        raise CLIError(f"--n must be 1..4096, got {args.n}")
    if not args.temperature > 0:
        raise CLIError(f"--temperature must be positive, got {args.temperature}")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise CLIError(f"--out must name a .png file, got {args.out}")
    _apply_threads(args)
    device = pick_device(args.device or "auto")
    model = _load_run(args.run, device=device)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    x = model.sample(args.n, temperature=args.temperature, generator=gen)          # (n, C, H, W) in [0, 1]
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    scale = args.scale or max(1, math.ceil(28 / model.config.image_size))
    buf = io.BytesIO()
    image_grid(images, scale=scale).save(buf, format="PNG")
    atomic_write_bytes(out, buf.getvalue())
    print(f"wrote {args.n} samples (temperature {args.temperature:g}) to {out}")
    return 0


# ---------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .checkpoint import CheckpointError
    from .config import ConfigError
    from .train import TrainingDiverged

    expected: tuple[type[BaseException], ...] = (CLIError, CheckpointError, ConfigError, TrainingDiverged,
                                                 FileNotFoundError, NotADirectoryError, PermissionError, ValueError)
    try:
        from .data import DataError
        expected += (DataError,)
    except ImportError:
        pass
    from .cli_factors import cmd_sweep
    sweep = functools.partial(cmd_sweep, train_config_from_args=_train_config_from_args, error=CLIError,
                              model_config_from_args=_model_config_from_args, apply_threads=_apply_threads)
    commands = {"train": cmd_train, "evaluate": cmd_evaluate, "sample": cmd_sample, "sweep": sweep}
    try:
        return commands[args.command](args)
    except expected as e:
        msg = str(e).strip().replace("\n", " ")
        print(f"error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
