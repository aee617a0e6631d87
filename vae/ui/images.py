"""Images for the page: crisp (nearest-neighbour upscaled) PNGs from uint8 or [0, 1] arrays."""

from __future__ import annotations

import base64
import io
import math

from PIL import Image

from vae.imageio import image_grid, to_uint8


def upscale(img, width: int = 280) -> Image.Image:
    """One image, (C, H, W) or (H, W), uint8 or float in [0, 1], numpy or torch, as a PIL image enlarged
    by the largest whole factor keeping it <= `width` pixels wide (at least 1), NEAREST so pixels stay crisp."""
    a = to_uint8(img)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"expected one image (C, H, W) or (H, W), got shape {a.shape}")
    return image_grid(a[None], pad=0, scale=max(1, width // a.shape[-1]))


def _png_bytes(pil: Image.Image) -> bytes:
    """PNG, never JPEG (crisp pixels); light compression because this runs on every slider step."""
    buf = io.BytesIO()
    pil.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def png(img, width: int = 280) -> bytes:
    """PNG bytes of `img` upscaled (NEAREST) to about `width` pixels wide."""
    return _png_bytes(upscale(img, width))


def grid(images, ncol: int | None = None, width: int = 560, pad: int = 2) -> Image.Image:
    """Images uint8 or float (N, C, H, W) or (R, K, C, H, W) -> one PIL image about `width` pixels wide.

    Each tile is upscaled by a whole factor (NEAREST) and tiles are separated by `pad` grey pixels
    of the output (so the gaps stay thin however large the tiles), readable on light and dark themes.
    """
    a = to_uint8(images)
    if a.ndim == 5:
        ncol = a.shape[1]
        a = a.reshape(-1, *a.shape[2:])
    n, _, _, w = a.shape
    ncol = max(1, min(ncol or math.ceil(math.sqrt(n)), n))
    scale = max(1, (width - pad * (ncol + 1)) // (ncol * w))
    return image_grid(a, nrow=ncol, pad=pad, scale=scale)


def data_url(pil: Image.Image) -> str:
    """A PNG data: URL of `pil`. Sent inside the page's own message, it needs no /media request, so an
    image replaced by a quick rerun (a live training fragment, a fast slider) can never 404."""
    return "data:image/png;base64," + base64.b64encode(_png_bytes(pil)).decode("ascii")


def tiles(images, tile_px: int = 64, max_width: int = 480, pad: int = 2) -> Image.Image:
    """Images (N, C, H, W) as a grid of tiles of about `tile_px` pixels each (a whole upscale factor, NEAREST),
    as many per row as fit in `max_width`: one image or a hundred, each is drawn at the same readable size."""
    a = to_uint8(images)
    n, w = a.shape[0], a.shape[-1]
    scale = max(1, int(round(tile_px / w)))
    ncol = max(1, min(n, (max_width - pad) // (w * scale + pad)))
    return image_grid(a, nrow=ncol, pad=pad, scale=scale)


def show(img, width: int = 280, caption: str | None = None, container=None,
         display_width: int | str | None = None) -> None:
    """st.image of one image (array, upscaled with NEAREST to about `width`) or of a PIL image (as is),
    sent as a PNG data URL (never JPEG, so pixels stay crisp; no /media file, see `data_url`).
    display_width: CSS pixels on the page, or "stretch" for the container's width (default: the image's own width)."""
    import streamlit as st

    pil = img if isinstance(img, Image.Image) else upscale(img, width)
    if caption and display_width is None:
        pil = room_for_caption(pil, caption)
    (container or st).image(data_url(pil), caption=caption, width=display_width or pil.width)


CAPTION_CHAR_PX = 7.5           # about the width of one character of a caption (14 px sans-serif), CSS pixels
CAPTION_MAX_PX = 240            # never widen an image beyond this for its caption


def room_for_caption(pil: Image.Image, caption: str, lines: int = 2) -> Image.Image:
    """`pil` widened, when it is narrower than its caption needs to fit in about `lines` lines, by transparent
    columns on both sides (the picture itself untouched and centred): st.image makes its caption as wide as
    the image, so one small tile wrapped "the selected test images" one word a line (issue 27).
    Returns `pil` itself when it is wide enough; the width needed is capped at CAPTION_MAX_PX."""
    need = min(CAPTION_MAX_PX, math.ceil(len(caption) * CAPTION_CHAR_PX / lines) + 8)
    if pil.width >= need:
        return pil
    mode = "LA" if pil.mode in ("L", "LA") else "RGBA"
    out = Image.new(mode, (need, pil.height), (0, 0) if mode == "LA" else (0, 0, 0, 0))
    out.paste(pil.convert(mode), ((need - pil.width) // 2, 0))
    return out
