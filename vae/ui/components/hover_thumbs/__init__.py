"""Hover thumbnails on a Plotly map: the image of the point under the mouse, next to Plotly's hover label.

    fig.update_layout(meta="vae-map")                     # tags the chart
    st.plotly_chart(fig, ...)
    hover_thumbnails("vae-map", images, index, set_key)   # images (N, C, H, W) uint8, index (N,) dataset indices

Plotly's hover label is text only, so a small `st.components.v2` component (JS beside this file) listens
to the chart's plotly_hover events and draws the point's image (whose dataset index is the point's
customdata[0]) in a floating canvas. The pixels are sent once per image set and browser session (the
browser keeps them on `window`; when it has lost them it asks again), not on every rerun.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import numpy as np
import streamlit as st

__all__ = ["hover_thumbnails", "MAX_BYTES"]

_HERE = Path(__file__).resolve().parent
_component = st.components.v2.component(
    "vae_hover_thumbs", html='<div class="vae-hover-thumbs" hidden></div>',
    js=(_HERE / "hover_thumbs.js").read_text(encoding="utf-8"))
MAX_BYTES = 16 * 2**20          # pixels sent at most (10,000 MNIST images are 7.8 MB)


def hover_thumbnails(tag: str, images, index, set_key: str, px: int = 112, key: str | None = None) -> bool:
    """Show the image of the hovered point on the Plotly chart whose layout.meta is `tag`.

    images (N, C, H, W) uint8 (numpy or torch), row i the image of dataset index index[i]; `set_key` names
    this image set (same key, same images: e.g. the dataset key, split and subsample size); px is the
    thumbnail's width in CSS pixels. Returns False (and shows nothing) for sets larger than MAX_BYTES.
    """
    a = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    if a.dtype != np.uint8 or a.ndim != 4:
        raise ValueError(f"images must be uint8 (N, C, H, W), got {a.dtype} {a.shape}")
    idx = np.asarray(index).astype(np.int64).reshape(-1)
    if len(idx) != len(a):
        raise ValueError(f"index has {len(idx)} entries for {len(a)} images")
    if a.nbytes > MAX_BYTES:
        return False
    key = key or f"hover_thumbs_{tag}"
    digest = hashlib.sha256(f"{set_key}|{a.shape}".encode()).hexdigest()[:16]
    sent = st.session_state.setdefault(f"_hover_thumbs_sent::{key}", set())

    def on_need() -> None:
        sent.discard(((st.session_state.get(key) or {}).get("need")))

    data = {"tag": tag, "hash": digest, "shape": list(a.shape[1:]), "px": int(px)}
    if digest not in sent:
        data["index"] = idx.tolist()
        data["pixels"] = base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")
    _component(key=key, data=data, on_need_change=on_need)
    sent.add(digest)
    return True
