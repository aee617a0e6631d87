"""The Train page's size check: the model's weights and the memory its training takes, before Start.

A config over the library's parameter limit (vae.config.MAX_PARAMETERS) or whose training would take more
than half this machine's memory disables Start with a one-line reason; otherwise one caption says the size.
"""

from __future__ import annotations

import os

import streamlit as st

from vae.config import ConfigError
from vae.dataset_names import DATASET_IMAGE_SHAPES

MEMORY_SHARE = 0.5          # of the machine's physical memory that one training may take


def machine_memory_bytes() -> int | None:
    """Physical memory of this machine (bytes), or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def image_shape_before_loading(dataset: str, options: dict) -> tuple[int, int, int] | None:
    """(C, H, W) the model will see, known without loading the data (None for a folder of images)."""
    shape = DATASET_IMAGE_SHAPES.get(dataset)
    if shape is None:
        return None
    size = int(options.get("image_size") or 0)
    return (shape[0], size, size) if size else shape


def _mb(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def fits(settings) -> bool:
    """Show the size of `settings`' model (a TrainSettings); False, with the reason shown, when it cannot train."""
    from vae.model import training_memory_bytes

    tc = settings.train_config
    shape = image_shape_before_loading(tc.dataset, settings.options)
    if shape is None:
        return True
    try:
        config = settings.model_config(shape)
    except (ConfigError, ValueError) as e:
        st.error(f"This model cannot be trained: {e}", icon=":material/memory:")
        return False
    need = training_memory_bytes(config, tc.batch_size, tc.k)
    have = machine_memory_bytes()
    if have is not None and need > MEMORY_SHARE * have:
        st.error(f"This model ({config.num_parameters():,} weights) needs at least {_mb(need)} to train at batch "
                 f"size {tc.batch_size}{f' x {tc.k} samples' if tc.k > 1 else ''}, more than half of this "
                 f"machine's {_mb(have)}: use narrower layers, a smaller batch or fewer samples.",
                 icon=":material/memory:")
        return False
    st.caption(f"{config.num_parameters():,} weights; training takes at least {_mb(need)} of memory.")
    return True
