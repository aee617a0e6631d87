"""`python -m vae train`: its options, the configs they make, and the run with its epoch table."""

from __future__ import annotations

import math
import signal
import sys
from pathlib import Path
from typing import Any

from ..dataset_names import DATASET_SUMMARIES
from ..config import ACTIVATIONS, LR_SCHEDULES, RESUMABLE_SCHEDULE_FIELDS
from ..objective_specs import OBJECTIVE_SPECS
from .common import CLIError, add_threads_flag, apply_threads

_TABLE = [("epoch", "{:>5d}", 5), ("train loss", "{:>10.3f}", 10), ("test loss", "{:>10.3f}", 10),
          ("recon", "{:>9.3f}", 9), ("kl", "{:>7.3f}", 7), ("beta", "{:>5.2f}", 5),
          ("seconds", "{:>8.1f}", 8), ("images/s", "{:>9.0f}", 9), ("test iwae", "{:>9.3f}", 9)]
_TABLE_KEYS = ["epoch", "train_loss", "test_loss", "recon", "kl", "beta", "seconds", "samples_per_s",
               "test_iwae_loss"]   # the last: negative IWAE_k bound of an --objective iwae run, else "-"


def add_train_parser(sub) -> None:
    """Register `train` on the subparsers `sub` of `python -m vae`."""
    from ..config import TrainConfig

    d = TrainConfig()
    t = sub.add_parser(
        "train", help="train a VAE and write a checkpoint folder",
        description="Train a VAE with Adam and write a checkpoint folder (config.json, model.safetensors, "
                    "metrics.jsonl) after every epoch. Losses are in nats per image (summed over pixels). "
                    "Ctrl-C stops after the current step and saves; continue later with --resume.",
        epilog="example: python -m vae train --dataset digits --hidden 64 --latent-dim 2 --epochs 20 "
               "--out runs/digits-2d")
    g = t.add_argument_group("data")
    g.add_argument("--dataset", default=None, metavar="NAME",
                   help=f"{', '.join(DATASET_SUMMARIES.values())}, or folder:PATH (a folder of images, one subfolder per class) (default: {d.dataset})")
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
                   help=f"weight of the KL term; 1 is the true ELBO, >1 a beta-VAE; with --objective tcvae the "
                        f"weight of the total correlation (Chen et al.'s beta, e.g. 6) (default: {d.beta:g})")
    g.add_argument("--warmup", type=int, default=None, metavar="EPOCHS",
                   help=f"epochs over which the KL weight rises linearly from 0 to beta (default: {d.warmup})")
    g.add_argument("--objective", choices=tuple(OBJECTIVE_SPECS), default=None,
                   help="training loss, one of: " + "; ".join(
                       f"{s.name}, {s.summary}" + "".join(f", with --{o.replace('_', '-')}" for o in s.options[:1])
                       for s in OBJECTIVE_SPECS.values()) + f" (default: {d.objective})")
    g.add_argument("--k", type=int, default=None, metavar="K",
                   help="importance samples per image for --objective iwae, e.g. 5 or 50 (default: 5 with iwae)")
    g.add_argument("--gamma", type=float, default=None,
                   help=f"--objective factorvae: weight of the total correlation penalty (default: {d.gamma:g})")
    g.add_argument("--disc-hidden", type=int, nargs="+", default=None, metavar="WIDTH",
                   help="--objective factorvae: hidden widths of the discriminator MLP (Kim & Mnih: 6 x 1000) "
                        f"(default: {' '.join(map(str, d.disc_hidden))})")
    g.add_argument("--disc-lr", type=float, default=None,
                   help=f"--objective factorvae: the discriminator's Adam learning rate (default: {d.disc_lr:g})")
    g.add_argument("--seed", type=int, default=None,
                   help=f"seeds the initial weights, batch order, binarisation and noise (default: {d.seed})")
    g.add_argument("--device", default=None,
                   help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps (default: auto)")
    add_threads_flag(g)
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


def _print_table_header() -> None:
    print("  ".join(f"{name:>{w}}" for name, _, w in _TABLE), flush=True)


def _print_table_row(rec: dict[str, Any]) -> None:
    cells = []
    for (name, fmt, w), key in zip(_TABLE, _TABLE_KEYS):
        v = rec.get(key)
        cells.append(fmt.format(v) if isinstance(v, (int, float)) and math.isfinite(v) else f"{'-':>{w}}")
    print("  ".join(cells), flush=True)


def train_config_from_args(args):
    from ..config import TrainConfig

    extra: dict[str, Any] = {}
    if args.image_size is not None:
        extra["image_size"] = args.image_size
    if args.n_train is not None:
        extra["n_train"] = args.n_train
    if args.n_test is not None:
        extra["n_test"] = args.n_test
    given = {k: getattr(args, k) for k in ("dataset", "data_dir", "epochs", "batch_size", "lr", "beta",
                                           "warmup", "binarize", "objective", "k", "seed", "device",
                                           "gamma", "disc_lr", *RESUMABLE_SCHEDULE_FIELDS)
             if getattr(args, k, None) is not None}
    if getattr(args, "disc_hidden", None) is not None:
        given["disc_hidden"] = tuple(args.disc_hidden)
    if given.get("objective") == "iwae" and "k" not in given:
        given["k"] = 5
    return TrainConfig(**given, extra=extra)


def check_objective_flags(args, objectives) -> None:
    """CLIError when FactorVAE's flags are given to a run (or sweep) that trains no FactorVAE."""
    given = [f"--{k.replace('_', '-')}" for k in ("gamma", "disc_hidden", "disc_lr") if getattr(args, k, None) is not None]
    if given and "factorvae" not in objectives:
        raise CLIError(f"{' '.join(given)} configure FactorVAE's discriminator: pass --objective factorvae")


def model_config_from_args(args, image_shape):
    from ..config import ModelConfig

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


def check_out_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        what = "a checkpoint" if (out / "config.json").exists() else "files"
        raise CLIError(f"{out} already holds {what}; continue it with --resume {out}, choose another --out, "
                       "or pass --overwrite")


def cmd_train(args) -> int:
    from ..train import Trainer, load_training_data, make_model

    apply_threads(args)

    if args.resume is not None:
        ignored = [f"--{k.replace('_', '-')}" for k in ("dataset", "image_size", "n_train", "n_test", "binarize",
                                                         "hidden", "conv_channels", "batch_size", "lr", "beta",
                                                         "warmup", "objective", "k", "gamma", "disc_hidden", "disc_lr",
                                                         "seed") if getattr(args, k) is not None]
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
        check_objective_flags(args, [args.objective])
        train_config = train_config_from_args(args)
        dataset = load_training_data(train_config)
        model_config = model_config_from_args(args, dataset.image_shape)
        out = Path(args.out) if args.out else Path("runs") / (
            f"{dataset.name.replace(':', '-').replace('/', '-')}-{model_config.arch}-z{model_config.latent_dim}")
        check_out_dir(out, args.overwrite)
        model = make_model(model_config, seed=train_config.seed)
        trainer = Trainer(model, dataset, train_config, out_dir=out, device=args.device,
                          save_optimizer=not args.no_optimizer_state, overwrite=args.overwrite)
    return run_trainer(trainer, quiet=args.quiet)


def run_trainer(trainer, quiet: bool) -> int:
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
