"""`python -m vae project RUN --split test|train|all --method pca|tsne|umap --out FILE.npz`.

Under `torchrun --nproc-per-node P` (WORLD_SIZE > 1) each rank encodes a shard and the map is shared
(cli/project_sharded.py, analysis/sharded_map.py); rank 0 writes the same .npz.

Encodes every image of the split (batched, tqdm bar, cached on disk per model and data) and maps
the posterior means to 2-D (t-SNE / UMAP fitted on a sample of --fit-points rows, the rest placed
with the fitted transform; cached per points and settings). `--split all` is train then test (all
70,000 MNIST images), no sampling. The .npz holds embedding float32 (N, 2), labels int64 (N,),
mu float32 (N, D), split uint8 (N,) (0 train, 1 test) and index int64 (N,) (row within its split),
and, for data with ground-truth factors (shapes), factors float32 (N, F) and factor_names (F,) str.
`--n-train N` draws N shapes instead of the recorded number: `--n-train 1000000 --split train` is the
million-point shapes map. The summary line gives the map's time with its trustworthiness and 10-NN label
accuracy (map_quality).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from vae.analysis.projection_methods import PROJECTIONS

from .common import CLIError, add_outside_flags, add_threads_flag, apply_threads, load_model_arg, tqdm_progress


def add_project_parser(sub) -> None:
    """Register `project` on the subparsers `sub` of `python -m vae`."""
    p = sub.add_parser(
        "project", help=f"encode a split and map it to 2-D ({', '.join(PROJECTIONS)}); writes an .npz",
        description="Encode every image of a split with a checkpoint and map the latent means to 2-D. "
                    "Encodings and maps are cached on disk ($VAE_CACHE_DIR/maps), so a second run is quick.")
    p.add_argument("run", metavar="RUN", help="checkpoint folder or .zip, or an outside model: path/to/file.py:function "
                   "or package.module:function (with --weights and --dataset), or an ONNX model folder or zip")
    add_outside_flags(p)
    p.add_argument("--split", choices=("test", "train", "all"), default="test",
                   help="which images: test, train, or all (train then test) (default: test)")
    p.add_argument("--method", choices=tuple(PROJECTIONS), default="pca",
                   help="projection: " + ", ".join(f"{m.name} ({m.label})" for m in PROJECTIONS.values())
                   + " (default: pca)")
    p.add_argument("--out", required=True, metavar="FILE.npz", help="where to write the map")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="where the data set's files are, if not where the checkpoint says")
    p.add_argument("--fit-points", type=int, default=None, metavar="M",
                   help="t-SNE/UMAP: fit on this many rows, place the rest (default: t-SNE 100000, UMAP 20000)")
    p.add_argument("--n-train", type=int, default=None, metavar="N",
                   help="shapes only: generate N training images instead of the recorded number "
                        "(e.g. --n-train 1000000 --split train for a million-point map; about 2 min to draw)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample and the map (default: 0)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the on-disk cache")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where to encode; under torchrun, cuda means each rank's own GPU (cuda:LOCAL_RANK) "
                        "(default: cpu)")
    add_threads_flag(p)


def cmd_project(args) -> int:
    import torch
    from tqdm import tqdm

    from ..analysis.large_map import default_fit_points
    from ..analysis.map_quality import format_quality, map_quality
    from ..train.distributed import Distributed
    from .evaluate_command import dataset_for

    apply_threads(args)
    if not str(args.out).endswith(".npz"):
        raise CLIError(f"--out must name an .npz file, got {args.out}")
    try:
        fit_points = default_fit_points(args.method, args.fit_points)
    except ValueError:
        raise CLIError(f"--fit-points must be at least 4, got {args.fit_points}") from None
    started = time.perf_counter()
    job = Distributed.from_env()
    device = args.device if args.device == "cpu" or not job.enabled else f"cuda:{job.local_rank}"
    model = load_model_arg(args, device)
    if not getattr(model, "checkpoint_info", None) and getattr(model.config, "arch", "") in ("outside", "onnx"):
        raise CLIError(f"{args.run} records no data set: name one with --dataset (e.g. --dataset digits)")
    options = None
    if args.n_train is not None:
        info = getattr(model, "checkpoint_info", None) or {}
        recorded = (info.get("train") or {}).get("dataset") \
            or (info.get("dataset") or {}).get("name")
        if recorded != "shapes":
            raise CLIError(f"--n-train applies to generated shapes data; {args.run} was trained on {recorded}")
        if args.n_train < 4:
            raise CLIError(f"--n-train must be at least 4, got {args.n_train}")
        drawn = tqdm(total=args.n_train, unit="img", desc="drawing shapes", file=sys.stderr, disable=args.quiet)
        options = {"n_train": args.n_train, "progress": lambda done, total: drawn.update(min(done, total) - drawn.n)}
    dataset, _ = dataset_for(model, args.data_dir, "test" if args.split == "test" else "train", options)
    if options:
        drawn.close()
    parts = ["train", "test"] if args.split == "all" else [args.split]
    splits = [getattr(dataset, s) for s in parts]
    images = torch.cat([s.images for s in splits]) if len(splits) > 1 else splits[0].images
    labels = torch.cat([s.labels for s in splits]).numpy() if len(splits) > 1 else splits[0].labels.numpy()
    which = np.concatenate([np.full(len(s), i if args.split == "all" else int(p == "test"), np.uint8)
                            for i, (s, p) in enumerate(zip(splits, parts))])
    index = np.concatenate([np.arange(len(s), dtype=np.int64) for s in splits])
    if len(images) < 4:
        raise CLIError(f"the {args.split} split holds {len(images)} images; a map needs at least 4")
    data_key = f"{dataset.name}/{args.split}"
    if job.enabled:
        from .project_sharded import encode_and_project_sharded
        got = encode_and_project_sharded(model, images, data_key, args, fit_points)
        if got is None:                   # ranks other than 0 write nothing
            return 0
        mu, hit, emb, info = got
    else:
        mu, hit, emb, info = _encode_and_project(model, images, data_key, args, fit_points)
    factors = {}
    if all(s.factors is not None for s in splits):
        factors = {"factors": torch.cat([s.factors for s in splits]).numpy(),
                   "factor_names": np.array(dataset.factor_names)}
    np.savez(args.out, embedding=np.ascontiguousarray(emb, np.float32), labels=labels.astype(np.int64),
             mu=mu, split=which, index=index, **factors)
    on = f" on {job.world_size} processes" if job.enabled else ""
    quality = format_quality(map_quality(mu, emb, labels, seed=args.seed))
    made = "cached" if info["cached"] else f"computed in {info['seconds']:.1f} s"
    print(f"{args.out}: {len(emb):,} points of {dataset.name} {args.split}, {args.method} "
          f"(fitted on {info['fitted']:,}, placed {info['placed']:,}){on}; encodings {'cached' if hit else 'computed'}, "
          f"map {made} ({quality}); {time.perf_counter() - started:.1f} s")
    return 0


def _encode_and_project(model, images, data_key: str, args, fit_points: int):
    """One process: (mu (N, D), encodings cached?, embedding (N, 2), info)."""
    from tqdm import tqdm

    from ..analysis.large_map import cached_encode, cached_project

    cache = not args.no_cache
    with tqdm(total=len(images), unit="img", desc="encoding", file=sys.stderr, disable=args.quiet) as bar:
        mu, _, hit = cached_encode(model, images, data_key=data_key, use_cache=cache,
                                   progress=lambda done, total: bar.update(done - bar.n))
    with tqdm(total=1, desc=args.method, file=sys.stderr, disable=args.quiet) as bar:
        emb, info = cached_project(mu, args.method, fit_points=fit_points, seed=args.seed,
                                   progress=tqdm_progress(bar), use_cache=cache)
    return mu, hit, emb, info
