"""The first second: a fresh server's first Decode page draws its picture before torch is imported.

`import torch` is most of a fresh server's first page (2-3.5 s of 3-5 s on a 2-core machine) and Streamlit
runs no code of ours before the first visit, so that visit paid for it before seeing anything. On a fresh
server's first run of the Decode page (torch not yet imported), app.py calls `draw(page)` before it imports
anything that imports torch: the default bundled model's decoder is read from its files as NumPy
(vae.browser_weights) and the latent control is drawn at z = 0 with it, under the page's title, in a slot.
The rest of the run imports torch and draws the page as always, without its title (`title()`); at the end
of the run the slot becomes the page's title (`replaced()`): the picture moves down by one row of buttons
when the page is complete, and the page then looks as on every other run.

The sliders come in the page's order and with its labels (by each dimension's KL on the model's data set,
`vae.ui.latents.dim_order`), read from the checkpoint folder's dim_order.json (vae.browser_weights), so
nothing moves under the hand when the page takes over. `python -m vae.ui.decode.first_picture FOLDER`
writes that file (with torch, the page's own functions); tests/test_first_picture.py checks the bundled one.

Skipped (None) on any other page or run, a model with 2+ dimensions whose dim_order.json is missing or for
other weights (the page's order is not known before torch), with a link's query parameters (a shared point or model), an
outside model (script arguments or VAE_EXPLORER_MODEL), a default model that is not an MLP, or any file
that does not read; VAE_FIRST_PICTURE=0 turns it off (the e2e tests' servers do, like VAE_WARMUP).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import streamlit as st

from vae.browser_weights import DIM_ORDER_FILE, export_decoder_binary_numpy, read_dim_order, read_numpy_checkpoint
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
        folder = ASSETS_DIR / DEFAULT_BUNDLED
        read = read_numpy_checkpoint(folder)
        export = export_decoder_binary_numpy(*read) if read is not None else None
        if export is None:
            return False
        latent_dim = int(export[0]["latent_dim"])
        kl = read_dim_order(folder, export[0]["hash"], latent_dim)
        if kl is None and latent_dim >= 2:
            import logging

            logging.getLogger(__name__).warning("no first picture: %s has no %s for its weights (write it with "
                                                "python -m vae.ui.decode.first_picture)", folder, DIM_ORDER_FILE)
            return False
        slot = st.empty()
        with slot.container():
            st.title(TITLE)
            first_picture(*export, np.zeros(latent_dim, np.float32), key=KEY, kl_per_dim=kl, value_range=4.0,
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


def page_kl(folder: str | Path) -> tuple[np.ndarray, str, int]:
    """(KL per dimension (D,) nats, data set key, images) as the Decode page computes it for the checkpoint
    `folder` on its data set (the page's own functions, with torch). Raises ValueError without a data set."""
    from types import SimpleNamespace

    from vae.checkpoint import load_model
    from vae.ui.latents import dataset_latents, dim_order
    from vae.ui.loaders import load_dataset_cached, spec_from_checkpoint

    model = load_model(folder)
    spec = spec_from_checkpoint(model)
    if spec is None:
        raise ValueError(f"{folder}: the checkpoint names no data set; the page has no KL order for it")
    lm = SimpleNamespace(id=f"bundled:{Path(folder).name}", model=model, latent_dim=int(model.config.latent_dim))
    ctx = SimpleNamespace(lm=lm, dataset=load_dataset_cached(spec), dataset_key=spec.key)
    lat = dataset_latents(ctx)
    kl, _, _ = dim_order(ctx, lat)
    return kl, spec.key, len(lat.index)


def write_dim_order(folder: str | Path) -> dict:
    """Write `folder`/dim_order.json: `page_kl` of this checkpoint, for the decoder `draw` exports from its
    files; returns the record written."""
    import json

    from vae.browser_weights import dim_order_record
    from vae.safeio.durable import atomic_write_bytes

    folder = Path(folder)
    read = read_numpy_checkpoint(folder)
    export = export_decoder_binary_numpy(*read) if read is not None else None
    if export is None:
        raise ValueError(f"{folder}: not a checkpoint whose MLP decoder reads without torch (no first picture)")
    kl, dataset_key, images = page_kl(folder)
    record = dim_order_record(kl, export[0]["hash"], dataset_key, images)
    atomic_write_bytes(folder / DIM_ORDER_FILE, (json.dumps(record, indent=1) + "\n").encode("utf-8"))
    return record

if __name__ == "__main__":
    for arg in sys.argv[1:] or [str(ASSETS_DIR / DEFAULT_BUNDLED)]:
        print(arg, write_dim_order(arg))
