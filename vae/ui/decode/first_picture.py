"""The first second: a fresh server's first Decode page draws its picture before torch is imported.

`import torch` is most of a fresh server's first page (2-3.5 s of 3-5 s on a 2-core machine) and Streamlit
runs no code of ours before the first visit, so that visit paid for it before seeing anything. On a fresh
server's first run of the Decode page (torch not yet imported), app.py calls `draw(page)` before it imports
anything that imports torch: the default bundled model's decoder is read from its files as NumPy
(vae.browser_weights) and the latent control is drawn at z = 0 with it, under the page's title, in a slot.
The rest of the run imports torch and draws the page as always, without its title (`title()`); at the end
of the run the slot becomes the page's title (`replaced()`): the picture moves down by one row of buttons
when the page is complete, and the page then looks as on every other run.

Skipped (None) on any other page or run, with a link's query parameters (a shared point or model), an
outside model (script arguments or VAE_EXPLORER_MODEL), a default model that is not an MLP, or any file
that does not read; VAE_FIRST_PICTURE=0 turns it off (the e2e tests' servers do, like VAE_WARMUP).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import streamlit as st

from vae.browser_weights import export_decoder_binary_numpy, read_numpy_checkpoint
from vae.ui.bundled import ASSETS_DIR, DEFAULT_BUNDLED
from vae.ui.components.latent_control import first_picture

TITLE = "Decode a latent point"        # pages/decode.py's title, drawn in the slot above the first picture
KEY = "dec_first_picture"              # the early control's key (the page's own is dec_latent_<model id>)
DECODE_PATHS = ("", "decode", "decode_home")
_SLOT = "_vae_first_picture_slot"


def wanted(page) -> bool:
    """True on a fresh server's first Decode run as a first visit opens it (no link, no outside model)."""
    return ("torch" not in sys.modules and os.environ.get("VAE_FIRST_PICTURE", "1").strip() != "0"
            and getattr(page, "url_path", None) in DECODE_PATHS and not st.query_params.to_dict()
            and not sys.argv[1:] and not os.environ.get("VAE_EXPLORER_MODEL", "").strip())


def draw(page) -> bool:
    """Draw the title and the default model's decoded picture at z = 0 in a slot, torch-free, when `wanted`;
    True when drawn. Never raises: the page is drawn as always afterwards."""
    st.session_state.pop(_SLOT, None)          # a slot of an earlier run is gone from the page
    if not wanted(page):
        return False
    try:
        read = read_numpy_checkpoint(ASSETS_DIR / DEFAULT_BUNDLED)
        export = export_decoder_binary_numpy(*read) if read is not None else None
        if export is None:
            return False
        slot = st.empty()
        with slot.container():
            st.title(TITLE)
            first_picture(*export, np.zeros(export[0]["latent_dim"], np.float32), key=KEY, value_range=4.0,
                          image_px=336)
    except Exception:  # noqa: BLE001 - an early picture never breaks the page
        import logging

        logging.getLogger(__name__).exception("first picture failed (the page draws its own)")
        return False
    st.session_state[_SLOT] = slot
    return True


def title() -> None:
    """The Decode page's title; in this run's first-picture slot (by `replaced()`) when there is one."""
    if _SLOT not in st.session_state:
        st.title(TITLE)


def replaced() -> None:
    """The page is drawn: the first picture's slot becomes the page's title (a no-op on every other run)."""
    slot = st.session_state.pop(_SLOT, None)
    if slot is not None:
        slot.title(TITLE)
