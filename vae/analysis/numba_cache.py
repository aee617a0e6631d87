"""Numba's disk cache for umap-learn's and pynndescent's kernels, which they compile without it.

umap-learn 0.5 and pynndescent compile about two hundred numba kernels with `cache=False` (the default): every
new process (each server, each `python -m vae project`) compiled them again before its first UMAP map, 14-16 s
of CPU on a 2-core machine even for 300 points, most of it umap-learn's parallel `fuzzy_simplicial_set`
kernels. Numba can keep any module-level kernel on disk (`Dispatcher.enable_caching()`, as `cache=True` would):
the first process compiles and saves, later ones load. The cache lives where numba puts it (the package's
`__pycache__`, or a per-user folder when that is read-only; $NUMBA_CACHE_DIR to choose), keyed by the source
file's timestamp and the CPU, so an upgrade or another machine compiles afresh. A kernel numba cannot cache
(it names a dynamic global) compiles as before, with numba's warning silenced.

    from vae.analysis.numba_cache import cache_umap_kernels
    cache_umap_kernels()           # once, before the first fit; returns how many kernels it turned on
"""

from __future__ import annotations

import importlib
import threading
import warnings

__all__ = ["cache_umap_kernels", "UMAP_KERNEL_MODULES"]

UMAP_KERNEL_MODULES = (
    "umap.umap_", "umap.layouts", "umap.utils", "umap.distances", "umap.sparse",
    "pynndescent.pynndescent_", "pynndescent.utils", "pynndescent.rp_trees", "pynndescent.distances",
    "pynndescent.sparse", "pynndescent.sparse_nndescent",
)

_lock = threading.Lock()
_done = False


def cache_umap_kernels(modules: tuple[str, ...] = UMAP_KERNEL_MODULES) -> int:
    """Turn on numba's disk cache for every kernel defined in `modules` that has none (once per process; later
    calls return 0). Returns the number of kernels turned on. A module that is missing is passed over."""
    global _done
    with _lock:
        if _done:
            return 0
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
        from numba.core.errors import NumbaWarning

        # "cannot cache ... as it uses dynamic globals": that kernel compiles per process, as before
        warnings.filterwarnings("ignore", message=".*[Cc]annot cache compiled function.*", category=NumbaWarning)
        turned = 0
        for name in modules:
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            for value in list(vars(module).values()):
                if (isinstance(value, Dispatcher) and value.py_func.__module__ == name and isinstance(value._cache, NullCache)
                        and not value.overloads):
                    try:
                        value.enable_caching()
                    except RuntimeError:         # no place to keep it (numba found no writable cache folder)
                        continue
                    turned += 1
        _done = True
        return turned
