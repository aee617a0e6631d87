"""Warm-up of what a server compiles on first use, in the background, after the first page is drawn.

UMAP's first call in a process compiles numba code (umap-learn, pynndescent): 14 s on a 2-core machine
before any UMAP map of any size, where numba's disk cache does not hold it yet (vae.analysis.numba_cache:
only the machine's first process compiles; later ones load the kernels, a few seconds). The first full run of the app starts one daemon thread, at the lowest
scheduling priority, that fits UMAP to 300 random points; a person who then asks for a UMAP map waits
for the map, not for the compiler. Started after the page (the first picture does not wait for it); a
failure is logged and changes nothing (the first real UMAP compiles, as before).
"""

from __future__ import annotations

import logging
import os
import threading
import time

import streamlit as st

log = logging.getLogger(__name__)


def _warm_umap() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)     # this thread only (Linux)
    except (AttributeError, OSError):
        pass
    try:
        import numpy as np

        from vae.analysis.umap_projection import project_umap

        t0 = time.perf_counter()
        project_umap(np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32), 2)
        log.warning("umap warm-up done: numba compiled in %.1f s, in the background", time.perf_counter() - t0)
    except Exception:  # noqa: BLE001 - a warm-up never fails the server
        log.exception("umap warm-up failed (the first UMAP map will compile instead)")


@st.cache_resource(show_spinner=False)
def start_background_warmup() -> threading.Thread | None:
    """Start the warm-up thread once per server process (VAE_WARMUP=0 turns it off)."""
    if os.environ.get("VAE_WARMUP", "1").strip() == "0":
        return None
    # pandas is imported whole here, before the thread: plotly looks pandas up in sys.modules without importing
    # it, and the thread's umap import left a half-imported pandas there while a page built its map figure
    # ("partially initialized module 'pandas' has no attribute 'Series'" on a fresh server's Latent map)
    import pandas  # noqa: F401

    thread = threading.Thread(target=_warm_umap, name="vae-warmup", daemon=True)
    thread.start()
    return thread
