"""umap-learn's and pynndescent's numba kernels go to numba's disk cache (vae.analysis.numba_cache): a process
after the first loads them instead of compiling them again (14-16 s of CPU per process before)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# a fresh process: fit a small UMAP map, place points on it, and count the kernels numba loaded or compiled
PROBE = """
import numpy as np
from vae.analysis.projection import place_points
from vae.analysis.umap_projection import project_umap
import umap.umap_, umap.layouts
proj = project_umap(np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32), 2, n_epochs=20)
place_points(proj, np.zeros((3, 4), np.float32))
kernels = [umap.umap_.smooth_knn_dist, umap.umap_.compute_membership_strengths, umap.umap_.init_transform,
           umap.layouts._nb_optimize_layout_euclidean_single_epoch]
print(sum(sum(k.stats.cache_hits.values()) for k in kernels), sum(sum(k.stats.cache_misses.values()) for k in kernels))
"""


def test_umap_kernels_compiled_by_one_process_are_loaded_by_the_next():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=REPO, capture_output=True, text=True,
                           check=True) for _ in range(2)]
    hits, misses = map(int, runs[1].stdout.split()[-2:])
    # every kernel the second process needed came from the disk (the first one, or an earlier process, saved it)
    assert hits >= 4 and misses == 0, (runs[0].stdout, runs[1].stdout, runs[1].stderr[-2000:])


def test_turning_the_cache_on_is_once_per_process_and_leaves_compiled_kernels_alone():
    from numba.core.caching import FunctionCache

    import umap.umap_
    from vae.analysis.numba_cache import cache_umap_kernels

    cache_umap_kernels()
    assert isinstance(umap.umap_.smooth_knn_dist._cache, FunctionCache)
    assert cache_umap_kernels() == 0                          # the second call changes nothing
    x = np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32)
    from vae.analysis.umap_projection import project_umap

    assert project_umap(x, 2, n_epochs=10).embedding.shape == (40, 2)
