"""A small drawing canvas (`st.components.v2`, inline HTML/CSS/JS beside this file).

    png = draw_canvas(key="canvas")   # PNG bytes of the 224x224 drawing (white ink on black), or None

The browser sends the picture when a stroke ends (and None after Clear); the caller resizes it to
the model's input (vae.ui.posterior.image_from_bytes).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import streamlit as st

__all__ = ["draw_canvas"]

_HERE = Path(__file__).resolve().parent
_PREFIX = "data:image/png;base64,"
_component = st.components.v2.component(
    "vae_draw_canvas",
    html=(_HERE / "draw_canvas.html").read_text(encoding="utf-8"),
    css=(_HERE / "draw_canvas.css").read_text(encoding="utf-8"),
    js=(_HERE / "draw_canvas.js").read_text(encoding="utf-8"),
)


def draw_canvas(*, key: str, brush: int = 18) -> bytes | None:
    """Mount the canvas; return the drawing as PNG bytes, or None before the first stroke / after Clear."""
    result = _component(key=key, data={"brush": int(brush)}, on_png_change=lambda: None)
    url = getattr(result, "png", None)
    if not isinstance(url, str) or not url.startswith(_PREFIX):
        return None
    try:
        return base64.b64decode(url[len(_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return None
