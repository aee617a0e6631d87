"""Procedural dSprites-like shapes with ground-truth factors (shape, scale, rotation, x, y)."""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw

from vae.data.idx import DataError


def _check_size(image_size) -> None:
    if not isinstance(image_size, int) or isinstance(image_size, bool) or not 4 <= image_size <= 256:
        raise DataError(f"image_size must be an integer in 4..256, got {image_size!r}")


def _check_count(option: str, value, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise DataError(f"{option} must be an integer >= {minimum}, got {value!r}")

SHAPE_NAMES = ["square", "ellipse", "heart"]  # label = index
SHAPE_FACTOR_NAMES = ["shape", "scale", "rotation", "x", "y"]
SHAPE_SCALES = np.linspace(0.5, 1.0, 6)  # 6 values
_SHAPE_PERIODS = np.array([math.pi / 2, math.pi, 2 * math.pi])  # rotation range of each shape, radians
_MAX_RADIUS = 0.22  # circumscribed radius of a scale-1 shape, as a fraction of the image side
_POSITION_MARGIN = 0.25  # centres range over [0.25, 0.75] of the side, so every shape stays clear of the border
_SUPERSAMPLE = 4  # drawn at 4x, then box-filtered down: antialiasing


def _unit_outlines() -> list[np.ndarray]:
    """Outline of each shape as (K, 2) float64 (x right, y up), centred, circumscribed radius 1."""
    t = np.linspace(0.0, 2 * math.pi, 96, endpoint=False)
    square = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]]) / math.sqrt(2)
    ellipse = np.stack([np.cos(t), 0.5 * np.sin(t)], axis=1)
    heart = np.stack([16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)], axis=1)
    heart -= (heart.max(0) + heart.min(0)) / 2
    heart /= np.linalg.norm(heart, axis=1).max()
    return [square, ellipse, heart]


_OUTLINES = _unit_outlines()


def make_shapes(n: int, image_size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` dSprites-like images: one white shape on black, antialiased.

    Returns images uint8 (n, 1, S, S) and factors float32 (n, 5) with columns SHAPE_FACTOR_NAMES:
    shape (class index into SHAPE_NAMES), scale (one of SHAPE_SCALES, 0.5..1), rotation (radians,
    counter-clockwise, uniform in [0, period): pi/2 square, pi ellipse, 2 pi heart), x and y (uniform in
    [0, 1]: the centre from left to right and from top to bottom, mapped to 0.25..0.75 of the side so
    that every shape stays inside). A scale-1 shape's circumscribed radius is 0.22 of the side.
    Deterministic in (n, image_size, seed); cached in-process, so the arrays are read-only.
    """
    _check_count("n", n)
    _check_size(image_size)
    return _make_shapes_cached(n, image_size, seed)


@functools.lru_cache(maxsize=4)
def _make_shapes_cached(n: int, image_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    exact = _sample_factors(n, np.random.default_rng(seed))   # float64: drawn from exactly these values
    images = render_shapes(exact, image_size)
    factors = exact.astype(np.float32)
    images.flags.writeable = False
    factors.flags.writeable = False
    return images, factors


def sample_shape_factors(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` factor rows drawn as make_shapes draws them: float32 (n, 5), columns SHAPE_FACTOR_NAMES."""
    return _sample_factors(n, rng).astype(np.float32)


def _sample_factors(n: int, rng: np.random.Generator) -> np.ndarray:
    shape = rng.integers(0, len(SHAPE_NAMES), n)
    scale = SHAPE_SCALES[rng.integers(0, len(SHAPE_SCALES), n)]
    rotation = rng.random(n) * _SHAPE_PERIODS[shape]
    x, y = rng.random(n), rng.random(n)
    return np.stack([shape, scale, rotation, x, y], axis=1).astype(np.float64)


def render_shapes(factors: np.ndarray, image_size: int = 32) -> np.ndarray:
    """Draw the images of given factor values: float (n, 5) with columns SHAPE_FACTOR_NAMES (as make_shapes
    returns them; any scale in (0, 1] and any rotation are drawn as given) -> uint8 (n, 1, S, S).

    Lets a caller fix one factor and vary the others (the FactorVAE score's samples)."""
    _check_size(image_size)
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2 or factors.shape[1] != len(SHAPE_FACTOR_NAMES):
        raise DataError(f"factors must be (n, {len(SHAPE_FACTOR_NAMES)}) with columns {SHAPE_FACTOR_NAMES}, "
                        f"got shape {factors.shape}")
    shape = factors[:, 0].astype(np.int64)
    if not np.isfinite(factors).all() or (shape != factors[:, 0]).any() or shape.min(initial=0) < 0 \
            or shape.max(initial=0) >= len(SHAPE_NAMES):
        raise DataError(f"the shape factor must be a class index 0..{len(SHAPE_NAMES) - 1} and all factors finite")
    scale, rotation, x, y = (factors[:, k] for k in range(1, 5))
    n = len(factors)
    big = image_size * _SUPERSAMPLE
    margin = _POSITION_MARGIN * big  # canvas pixels
    cx = margin + x * (big - 2 * margin)
    cy = margin + y * (big - 2 * margin)
    radius = _MAX_RADIUS * big * scale
    cos, sin = np.cos(rotation), np.sin(rotation)
    images = np.empty((n, 1, image_size, image_size), dtype=np.uint8)
    for k, outline in enumerate(_OUTLINES):
        idx = np.flatnonzero(shape == k)
        if len(idx) == 0:
            continue
        # rotate counter-clockwise (y up), scale to canvas pixels, flip y to image rows: (m, K, 2)
        r = radius[idx, None]
        px = cx[idx, None] + r * (outline[:, 0] * cos[idx, None] - outline[:, 1] * sin[idx, None])
        py = cy[idx, None] - r * (outline[:, 0] * sin[idx, None] + outline[:, 1] * cos[idx, None])
        vertices = np.stack([px, py], axis=2).reshape(len(idx), -1).tolist()
        for i, flat in zip(idx, vertices):
            canvas = Image.new("L", (big, big), 0)
            ImageDraw.Draw(canvas).polygon(flat, fill=255)
            images[i, 0] = np.asarray(canvas.reduce(_SUPERSAMPLE))
    return images
