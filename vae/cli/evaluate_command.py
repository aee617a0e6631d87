"""`python -m vae evaluate`: its options, the data set a checkpoint records, and the printed scores."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from .common import CLIError, add_outside_flags, add_threads_flag, apply_threads, load_model_arg


def add_evaluate_parser(sub) -> None:
    """Register `evaluate` on the subparsers `sub` of `python -m vae`."""
    e = sub.add_parser(
        "evaluate", help="print the test ELBO (and optionally IWAE) of a checkpoint",
        description="Score a checkpoint on the data set recorded in it: the ELBO and its terms, the IWAE "
                    "bound on log p(x), active units; nats per image (summed over pixels). A model trained "
                    "on binarised images is scored on one fixed Bernoulli draw (seed 0) of the split.")
    e.add_argument("run", metavar="RUN", help="checkpoint folder or .zip, or an outside model: path/to/file.py:function "
                   "or package.module:function (see vae/models/protocol.py)")
    add_outside_flags(e)
    e.add_argument("--binarize", choices=("none", "static", "dynamic"), default=None,
                   help="score images as given (none) or one fixed Bernoulli draw (static; dynamic is scored as "
                        "static) (default: as the checkpoint was trained; none for an outside model)")
    e.add_argument("--limit", type=int, default=None, metavar="N",
                   help="score only the first N images of the split (default: all)")
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
    add_threads_flag(e)


def dataset_for(model, data_dir: str | None, split: str = "train", options: dict | None = None):
    """The data set a checkpoint was trained on (as recorded in it), and its TrainConfig (or None).

    `options` override load_dataset's recorded options (e.g. {"n_train": 1_000_000, "progress": f}
    for a bigger generated shapes set); they are not kept in the returned TrainConfig.

    For the test split of MNIST / Fashion-MNIST only the test files are read (test_only): from
    `data_dir`, else the recorded folder where it exists, else the cache or the bundled copy, so a
    bundled checkpoint is scored offline wherever it was trained.
    """
    from ..config import TrainConfig
    from ..data import IDX_SOURCES, load_dataset
    from ..train import load_training_data

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
        loading = dataclasses.replace(train, extra={**train.extra, **options}) if options else train
        dataset = load_training_data(loading, data_dir=data_dir)
    if tuple(dataset.image_shape) != tuple(model.config.image_shape):
        raise CLIError(f"data set {dataset.name} holds {tuple(dataset.image_shape)} images but the model takes "
                       f"{tuple(model.config.image_shape)}")
    return dataset, train


def cmd_evaluate(args) -> int:
    from ..device import pick_device

    apply_threads(args)
    device = pick_device(args.device or "auto")
    model = load_model_arg(args, device)
    if not getattr(model, "checkpoint_info", None) and getattr(model.config, "arch", "") in ("outside", "onnx"):
        raise CLIError(f"{args.run} records no data set: name one with --dataset (e.g. --dataset mnist)")
    dataset, train = dataset_for(model, args.data_dir, args.split)
    try:
        from ..analysis.likelihood import evaluate_model
    except ImportError as e:
        raise CLIError(f"vae.analysis.likelihood.evaluate_model is not available: {e}") from None
    if args.iwae_samples < 0:
        raise CLIError(f"--iwae-samples must be >= 0, got {args.iwae_samples}")
    split = getattr(dataset, args.split)
    images = split.images
    if args.limit is not None:
        if args.limit < 1:
            raise CLIError(f"--limit must be >= 1, got {args.limit}")
        images = images[:args.limit]
    if args.factors and split.factors is None:
        raise CLIError(f"data set {dataset.name} has no ground-truth factors, so --factors has nothing to measure "
                       "against (it needs data with factors, e.g. shapes)")
    if args.binarize is not None:
        binarize = "none" if args.binarize == "none" else "static"
    else:
        binarize = "static" if train.binarize != "none" else "none"
    bar = None
    progress = None
    if not args.json:
        from tqdm import tqdm
        bar = tqdm(total=len(images), unit="img", leave=False, desc="evaluating", file=sys.stderr)

        def progress(done, total):
            bar.update(done - bar.n)
    started = time.perf_counter()
    try:
        result = evaluate_model(model, images, iwae_samples=args.iwae_samples, binarize=binarize,
                                seed=args.seed, device=device, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    result = {"run": str(args.run), "dataset": dataset.name, "split": args.split, **result,
              "device": str(device), "seconds": round(time.perf_counter() - started, 4)}
    if args.factors:
        from .sweep_and_factors import factor_metrics_for
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
        from .sweep_and_factors import print_factor_table
        print_factor_table(result)
    return 0
