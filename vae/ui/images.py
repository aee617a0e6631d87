"""Images for the page: crisp (nearest-neighbour upscaled) PNGs from uint8 or [0, 1] arrays."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image


def as_hwc_uint8(img) -> np.ndarray:
    """One image as uint8 (H, W, C) from (C, H, W) / (H, W, C) / (H, W), uint8 or float in [0, 1]."""
    a = img.detach().cpu().numpy() if torch.is_tensor(img) else np.asarray(img)
    if a.dtype != np.uint8:
        a = (np.clip(a.astype(np.float32), 0.0, 1.0) * 255.0).round().astype(np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    elif a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[2] not in (1, 3):
        a = a.transpose(1, 2, 0)                     # (C, H, W) -> (H, W, C)
    if a.ndim != 3:
        raise ValueError(f"expected one image (C, H, W) or (H, W, C), got shape {a.shape}")
    return np.ascontiguousarray(a)


def upscale(img, width: int = 280) -> Image.Image:
    """A PIL image enlarged by a whole factor with NEAREST so that pixels stay square and crisp.

    The factor is the largest whole number keeping the width <= `width` (at least 1).
    """
    a = as_hwc_uint8(img)
    h, w, c = a.shape
    pil = Image.fromarray(a[:, :, 0] if c == 1 else a, mode="L" if c == 1 else "RGB")
    k = max(1, width // w)
    return pil.resize((w * k, h * k), Image.NEAREST) if k > 1 else pil


def png(img, width: int = 280) -> bytes:
    """PNG bytes of `img` upscaled (NEAREST) to about `width` pixels wide."""
    buf = io.BytesIO()
    upscale(img, width).save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def grid(images, ncol: int | None = None, width: int = 560, pad: int = 2) -> Image.Image:
    """Images uint8 or float (N, C, H, W) or (R, K, C, H, W) -> one PIL image about `width` pixels wide.

    Each tile is upscaled by a whole factor (NEAREST) and tiles are separated by `pad` grey pixels
    of the output (so the gaps stay thin however large the tiles), readable on light and dark themes.
    """
    from vae.latent import image_grid

    a = images.detach().cpu().numpy() if torch.is_tensor(images) else np.asarray(images)
    if a.ndim == 5:
        ncol = a.shape[1]
        a = a.reshape(-1, *a.shape[2:])
    n, _, _, w = a.shape
    ncol = max(1, min(ncol or int(np.ceil(np.sqrt(n))), n))
    scale = max(1, (width - pad * (ncol + 1)) // (ncol * w))
    return image_grid(a, nrow=ncol, pad=pad, scale=scale)


def show(img, width: int = 280, caption: str | None = None, container=None) -> None:
    """st.image of one image (array, upscaled with NEAREST to about `width`) or of a PIL image (as is),
    sent as PNG, never JPEG, so pixels stay crisp."""
    import streamlit as st

    pil = img if isinstance(img, Image.Image) else upscale(img, width)
    buf = io.BytesIO()
    pil.save(buf, format="PNG", compress_level=1)
    (container or st).image(buf.getvalue(), caption=caption, width=pil.width, output_format="PNG")
