"""`python -m vae project` under torchrun: each rank encodes its shard, the map is fitted once and shared.

The process group is gloo (collectives on CPU tensors, whichever device encodes); torchrun sets
WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT. Only rank 0 shows progress, reads and writes the map
cache and the .npz. Encodings are cached per shard (its rows and image bytes).
"""

from __future__ import annotations

import sys

import numpy as np
import torch
import torch.distributed as dist


def encode_and_project_sharded(model, images, data_key: str, args, fit_points: int):
    """Every rank: encode rows [start, stop) of images (N, C, H, W), project together.

    Returns (mu (N, D), encodings cached on every rank?, embedding float32 (N, 2), info) on rank 0,
    None on the other ranks. The process group is set up here if torchrun's caller has not, and torn
    down at the end.
    """
    from tqdm import tqdm

    from ..analysis.large_map import cached_encode, projection_cache_path, read_projection, write_projection
    from ..analysis.sharded_map import gather_rows, shard_rows, sharded_project
    from .common import tqdm_progress

    own_group = not dist.is_initialized()
    if own_group:
        dist.init_process_group(backend="gloo")
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        quiet = args.quiet or rank != 0
        cache = not args.no_cache
        n = len(images)
        start, stop = shard_rows(n, rank, world)
        with tqdm(total=stop - start, unit="img", desc=f"encoding (rank 0 of {world})", file=sys.stderr,
                  disable=quiet) as bar:
            mu_local, _, hit = cached_encode(model, images[start:stop], data_key=f"{data_key}/rows {start}:{stop}",
                                             use_cache=cache, progress=lambda done, total: bar.update(done - bar.n))
        hits = torch.tensor([int(hit)])
        dist.all_reduce(hits, op=dist.ReduceOp.MIN)
        mu = gather_rows(mu_local)
        found = None
        if rank == 0 and cache:
            path = projection_cache_path(mu, args.method, fit_points=fit_points, seed=args.seed)
            found = read_projection(path)
        flag = torch.tensor([int(found is not None)])
        dist.broadcast(flag, src=0)
        if flag.item():
            return (mu, bool(hits.item()), *found) if rank == 0 else None
        with tqdm(total=1, desc=args.method, file=sys.stderr, disable=quiet) as bar:
            emb, info = sharded_project(mu_local, start, n, args.method, fit_points=fit_points, seed=args.seed,
                                        progress=tqdm_progress(bar))
        if rank != 0:
            return None
        info = {**info, "processes": world}
        if cache:
            write_projection(path, emb, info)
        return mu, bool(hits.item()), np.asarray(emb, np.float32), {**info, "cached": False}
    finally:
        if own_group:
            dist.destroy_process_group()
