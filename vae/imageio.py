"""Images out: float [0, 1] or uint8 arrays (..., C, H, W) -> grids, PNG and animated GIF bytes (Pillow).

Upscaling is nearest-neighbour, so each pixel of a 28 x 28 digit stays a crisp square.
C = 1 gives a greyscale image ("L"), C = 3 an RGB one.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

__all__ = ["to_uint8", "image_grid", "png_bytes", "gif_bytes", "strip_png"]


def to_uint8(images) -> np.ndarray:
    """Float images in [0, 1] (numpy or torch, any shape) -> uint8 numpy of the same shape, 0..255.

    Values are clipped to [0, 1] and rounded; uint8 input is returned unchanged (as numpy).
    """
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x
    if x.dtype == bool:
        return x.astype(np.uint8) * 255
    x = np.nan_to_num(x.astype(np.float32), nan=0.0)
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _check_chw(x: np.ndarray, what: str) -> None:
    if x.shape[-3] not in (1, 3):
        raise ValueError(f"{what}: expected 1 (grey) or 3 (RGB) channels in (..., C, H, W), got shape {x.shape}")


def _pad_value_uint8(pad_value) -> int:
    v = float(pad_value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"pad_value must be in [0, 1] (0 black, 1 white), got {pad_value!r}")
    return int(round(v * 255))


def _to_pil(hwc: np.ndarray) -> Image.Image:
    """uint8 (H, W, C) with C in {1, 3} -> PIL image ("L" or "RGB")."""
    return Image.fromarray(hwc[..., 0]) if hwc.shape[-1] == 1 else Image.fromarray(hwc)


def _grid_array(images, nrow: int | None, pad: int, scale: int, pad_value) -> np.ndarray:
    """images (N, C, H, W) or (R, K, C, H, W) -> uint8 (H_out, W_out, C) with `pad` output pixels between tiles."""
    x = to_uint8(images)
    if x.ndim == 5:
        if nrow is not None:
            raise ValueError("image_grid: nrow applies to (N, C, H, W) input; a (R, K, C, H, W) grid already has K per row")
        rows, cols = x.shape[:2]
        x = x.reshape(rows * cols, *x.shape[2:])
    elif x.ndim == 4:
        n = x.shape[0]
        cols = int(nrow) if nrow is not None else max(1, math.ceil(math.sqrt(n)))
        if cols < 1:
            raise ValueError(f"image_grid: nrow must be at least 1, got {nrow}")
        cols = min(cols, max(n, 1))
        rows = math.ceil(n / cols)
    else:
        raise ValueError(f"image_grid expects images of shape (N, C, H, W) or (R, K, C, H, W), got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("image_grid: no images to draw")
    _check_chw(x, "image_grid")
    scale, pad = int(scale), int(pad)
    if scale < 1 or pad < 0:
        raise ValueError(f"image_grid needs scale >= 1 and pad >= 0, got scale={scale}, pad={pad}")
    if scale > 1:
        x = x.repeat(scale, axis=-2).repeat(scale, axis=-1)   # nearest-neighbour upscaling
    n, c, h, w = x.shape
    out = np.full((pad + rows * (h + pad), pad + cols * (w + pad), c), _pad_value_uint8(pad_value), np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        y0, x0 = pad + r * (h + pad), pad + k * (w + pad)
        out[y0:y0 + h, x0:x0 + w] = x[i].transpose(1, 2, 0)
    return out


def image_grid(images, *, nrow: int | None = None, pad: int = 2, scale: int = 1,
               pad_value: float = 0.5) -> Image.Image:
    """Tile images into one PIL image.

    images: float [0, 1] or uint8, numpy or torch, (N, C, H, W) laid out `nrow` per row (default
    ceil(sqrt(N)); the last row is filled with pad_value), or (R, K, C, H, W) laid out as R rows of K.
    Each tile is upscaled `scale` times (nearest) and `pad` output pixels of grey level
    `pad_value` (0 black .. 1 white) separate the tiles and frame the grid.
    Size: (K * (W * scale + pad) + pad) wide by (R * (H * scale + pad) + pad) high.
    """
    return _to_pil(_grid_array(images, nrow, pad, scale, pad_value))


def png_bytes(img) -> bytes:
    """A PIL image (or an image array accepted by image_grid, tiled with its defaults) -> PNG file bytes."""
    if not isinstance(img, Image.Image):
        img = image_grid(img)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def strip_png(frames, scale: int = 4, *, pad: int = 2, pad_value: float = 0.5) -> bytes:
    """Frames (N, C, H, W) side by side in one row, upscaled `scale` times -> PNG bytes."""
    x = to_uint8(frames)
    if x.ndim != 4:
        raise ValueError(f"strip_png expects frames of shape (N, C, H, W), got {x.shape}")
    return png_bytes(image_grid(x, nrow=max(1, x.shape[0]), pad=pad, scale=scale, pad_value=pad_value))


def gif_bytes(frames, *, duration_ms: int = 80, loop: bool = True, boomerang: bool = False,
              scale: int = 4) -> bytes:
    """Animated GIF of frames (N, C, H, W), float [0, 1] or uint8 -> bytes.

    Each frame is upscaled `scale` times (nearest) and shown `duration_ms` milliseconds.
    loop=True repeats forever; False plays once. boomerang=True plays forwards then backwards
    (frames 0..N-1, N-2..1), so a looped interpolation has no jump. Pillow merges identical
    consecutive frames into one longer frame. RGB frames are reduced to a 256-colour palette.
    """
    x = to_uint8(frames)
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"gif_bytes expects a non-empty array of frames (N, C, H, W), got shape {x.shape}")
    _check_chw(x, "gif_bytes")
    if duration_ms < 1 or int(scale) < 1:
        raise ValueError(f"gif_bytes needs duration_ms >= 1 and scale >= 1, got {duration_ms}, {scale}")
    if boomerang and x.shape[0] > 2:
        x = np.concatenate([x, x[-2:0:-1]])
    if scale > 1:
        x = x.repeat(int(scale), axis=-2).repeat(int(scale), axis=-1)
    images = [_to_pil(f.transpose(1, 2, 0)) for f in x]
    if images[0].mode == "RGB":
        images = [im.quantize(256, dither=Image.Dither.NONE) for im in images]
    buf = io.BytesIO()
    kwargs = dict(save_all=True, append_images=images[1:], duration=int(duration_ms), disposal=1)
    if loop:
        kwargs["loop"] = 0
    images[0].save(buf, format="GIF", **kwargs)
    return buf.getvalue()
