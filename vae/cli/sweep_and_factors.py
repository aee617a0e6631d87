"""The command line for factors and sweeps: `python -m vae sweep`, and `evaluate --factors`.

    python -m vae sweep --dataset shapes --hidden 256 128 --latent-dim 8 --epochs 40 \\
        --beta 1 2 4 8 16 --out runs/shapes-beta
    python -m vae evaluate runs/shapes-beta/beta-4 --factors --json

vae/cli/__init__.py registers `sweep` and maps its errors to "error: ..." lines.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from vae.dims import dim_label


def add_sweep_parser(sub, add_threads_flag) -> None:
    """Register `sweep` on the subparsers `sub` of `python -m vae`."""
    from ..config import ACTIVATIONS, TrainConfig
    from ..objective_specs import OBJECTIVE_SPECS

    d = TrainConfig()
    p = sub.add_parser(
        "sweep", help="train a family of models that differ in one setting (beta, latent size or objective)",
        description="Train one model per value of --beta, --latent-dim or --objective (give several values to "
                    "exactly one of them), each in its own folder OUT/beta-4, OUT/latent_dim-16, "
                    "OUT/objective-tcvae, ... with the same seed, data "
                    "and recipe; one progress bar for the whole sweep. Resumable: run the same command again and "
                    "finished models are skipped, a half-trained one continues from its last epoch.",
        epilog="example: python -m vae sweep --dataset shapes --hidden 256 128 --latent-dim 8 --epochs 40 "
               "--beta 1 4 16 --out runs/shapes-beta")
    p.add_argument("--beta", type=float, nargs="+", default=None, metavar="B",
                   help=f"KL weight(s); several values sweep it (default: {d.beta:g})")
    p.add_argument("--latent-dim", type=int, nargs="+", default=[8], metavar="D",
                   help="latent size(s); several values sweep it (default: 8)")
    p.add_argument("--out", required=True, metavar="DIR", help="the sweep's folder (one subfolder per model)")
    p.add_argument("--dataset", default="shapes", metavar="NAME", help="as for train (default: shapes)")
    p.add_argument("--data-dir", default=None, metavar="DIR", help="as for train")
    p.add_argument("--image-size", type=int, default=None, metavar="PIXELS", help="as for train")
    p.add_argument("--n-train", type=int, default=None, metavar="N", help="as for train")
    p.add_argument("--n-test", type=int, default=None, metavar="N", help="as for train")
    p.add_argument("--binarize", choices=("none", "static", "dynamic"), default=None, help="as for train")
    p.add_argument("--arch", choices=("mlp", "conv"), default="mlp", help="as for train (default: mlp)")
    p.add_argument("--hidden", type=int, nargs="+", default=None, metavar="WIDTH", help="as for train")
    p.add_argument("--conv-channels", type=int, nargs="+", default=None, metavar="C", help="as for train")
    p.add_argument("--activation", choices=ACTIVATIONS, default="relu", help="as for train (default: relu)")
    p.add_argument("--likelihood", choices=("bernoulli", "gaussian"), default="bernoulli", help="as for train")
    p.add_argument("--epochs", type=int, default=None, metavar="N", help=f"per model (default: {d.epochs})")
    p.add_argument("--batch-size", type=int, default=None, metavar="B", help="as for train")
    p.add_argument("--lr", type=float, default=None, help="as for train")
    p.add_argument("--warmup", type=int, default=None, metavar="EPOCHS", help="as for train")
    p.add_argument("--objective", nargs="+", default=None, metavar="OBJECTIVE",
                   help=f"as for train, one of {', '.join(OBJECTIVE_SPECS)}; several values sweep it (--beta is then "
                        "the KL weight of elbo / iwae / factorvae and the TC weight of tcvae); a value may set its "
                        "own beta, gamma, k or disc_lr: elbo:beta=8 tcvae:beta=6 factorvae:gamma=20")
    p.add_argument("--gamma", type=float, default=None, help="as for train (factorvae)")
    p.add_argument("--disc-hidden", type=int, nargs="+", default=None, metavar="WIDTH", help="as for train (factorvae)")
    p.add_argument("--disc-lr", type=float, default=None, help="as for train (factorvae)")
    p.add_argument("--k", type=int, default=None, metavar="K", help="as for train")
    p.add_argument("--seed", type=int, default=None, help="shared by every model (default: 0)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, mps (default: auto)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_threads_flag(p)


def cmd_sweep(args, *, train_config_from_args, model_config_from_args, apply_threads, error) -> int:
    """Run (or continue) a sweep; `error` is the CLI's one-line error class."""
    from ..sweep_format import SweepError, parse_objective_value
    from ..train import load_training_data
    from ..train.sweep import plan_sweep, run_sweep, sweep_status
    from .train_command import check_objective_flags

    apply_threads(args)
    betas, dims, objectives = args.beta or [], args.latent_dim or [], args.objective or []
    swept = [name for name, vals in (("beta", betas), ("latent_dim", dims), ("objective", objectives))
             if len(vals) > 1]
    if len(swept) != 1:
        raise error("give several values to exactly one of --beta, --latent-dim and --objective, e.g. --beta 1 4 16")
    setting = swept[0]
    values = {"beta": betas, "latent_dim": dims, "objective": objectives}[setting]
    try:
        names = [parse_objective_value(v)[0] for v in objectives]
    except SweepError as e:
        raise error(str(e)) from None
    if len(objectives) == 1 and parse_objective_value(objectives[0])[1]:
        raise error(f"--objective {objectives[0]}: options in an objective's value are for a sweep of objectives; "
                    "give the shared ones as --beta, --gamma, --k, --disc-lr")
    check_objective_flags(args, names or ["elbo"])
    # the shared recipe: the first objective (iwae where it is swept with --k, which the others ignore)
    objective = ("iwae" if "iwae" in names and args.k is not None else names[0]) if names else None
    one = dict(vars(args))
    one.update(beta=betas[0] if betas else None, latent_dim=dims[0], objective=objective, lr_schedule=None,
               lr_min=None, lr_decay_start=None)
    shared = type(args)(**one)
    train_config = train_config_from_args(shared)
    dataset = load_training_data(train_config)
    model_config = model_config_from_args(shared, dataset.image_shape)
    try:
        plan = plan_sweep(setting, values, model_config, train_config, Path(args.out))
        before = {run.folder.name: (state, epochs) for run, state, epochs in sweep_status(plan)}
    except SweepError as e:
        raise error(str(e)) from None
    print(f"sweep of {setting} over {list(plan.values)}: {len(plan.values)} models, {train_config.epochs} epochs each, "
          f"on {dataset.name} ({len(dataset.train)} train images), seed {train_config.seed}; writing {plan.folder}",
          flush=True)
    bar = None
    if not args.quiet:
        from tqdm import tqdm
        bar = tqdm(total=1, unit="step", dynamic_ncols=True, file=sys.stderr, desc="sweep")

    def progress(done: int, total: int, name: str) -> None:
        if bar is None:
            return
        if bar.total != total:
            bar.total = total
        if name:
            bar.set_description(f"sweep: {name}", refresh=False)
        bar.update(done - bar.n)

    def on_run(run, action: str) -> None:
        state, epochs = before[run.folder.name]
        note = {"skipped": "finished already, skipped", "resumed": f"resuming after epoch {epochs}",
                "trained": "training"}[action]
        msg = f"{run.folder.name}: {note}"
        (bar.write(msg, file=sys.stderr) if bar is not None else print(msg, flush=True))

    import signal
    import threading

    stop = threading.Event()

    def on_sigint(signum, frame):
        if stop.is_set():                      # a second Ctrl-C: give up at once
            raise KeyboardInterrupt
        print("\nstopping after this step (Ctrl-C again to abort without saving)...", file=sys.stderr)
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        actions = run_sweep(plan, progress=progress, on_run=on_run, dataset=dataset, device=args.device, stop=stop)
    except SweepError as e:
        raise error(str(e)) from None
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()
    for run, action in actions:
        print(f"{run.folder}: {action}", flush=True)
    if stop.is_set():
        print(f"stopped; continue with the same command (finished models are skipped, {actions[-1][0].folder.name} "
              "resumes)", flush=True)
        return 0
    print(f"done: {len(actions)} models in {plan.folder}; score them with "
          f"python -m vae evaluate {plan.folder}/{plan.runs[0].folder.name} --factors --json", flush=True)
    return 0


def factor_metrics_for(model, dataset, *, split: str = "test", seed: int = 0) -> dict[str, Any]:
    """The disentanglement metrics of `model` on `dataset` (which must carry factors), as a JSON-ready dict."""
    import time

    from ..analysis.factors import as_torch_free, evaluate_factors

    started = time.perf_counter()
    result = as_torch_free(evaluate_factors(model, dataset, split=split, seed=seed))
    result["factor_seconds"] = round(time.perf_counter() - started, 2)
    return result


def print_factor_table(result: dict[str, Any]) -> None:
    """The factor metrics of `evaluate --factors` as text: scores, then I(z; factor) / H(factor) per dimension."""
    from ..analysis.factors import METRIC_KEYS

    p = result["factor_protocol"]
    print(f"disentanglement ({p['n_points']} images {'from the generator' if p['source'] == 'generated' else 'of the ' + p['source']}, "
          f"factors binned into {p['num_bins']}; 0 = none, 1 = perfect)")
    for key in METRIC_KEYS:
        v = result.get(key)
        print(f"  {key:<20} {'n/a' if v is None else f'{v:.3f}'}")
    names = result["factor_names"]
    print("  I(z; factor) / H(factor), dimensions by KL:")
    print("  " + " " * 14 + "".join(f"{n:>10}" for n in names))
    kl = result["dim_kl"]
    for d in sorted(range(len(kl)), key=lambda i: -kl[i]):
        print(f"  {dim_label(d):<4} KL {kl[d]:5.2f} " + "".join(f"{v:10.2f}" for v in result["mi_normalized"][d]))
