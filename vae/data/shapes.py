"""Procedural dSprites-like shapes with ground-truth factors (shape, scale, rotation, x, y)."""

from __future__ import annotations

import functools
import math
from typing import Callable

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
    Deterministic in (n, image_size, seed); cached in-process, so the arrays are read-only
    (generate_shapes gives the same arrays uncached and writable).
    """
    _check_count("n", n)
    _check_size(image_size)
    return _make_shapes_cached(n, image_size, seed)


@functools.lru_cache(maxsize=4)
def _make_shapes_cached(n: int, image_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    images, factors = generate_shapes(n, image_size, seed)
    images.flags.writeable = False
    factors.flags.writeable = False
    return images, factors


def generate_shapes(n: int, image_size: int = 32, seed: int = 0,
                    progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """make_shapes' arrays, not cached and writable (a 1,000,000-image set is 1 GB at 32x32: one copy).

    Image i depends only on (seed, n's factor draw, i): the first k images of n >= k are NOT those of
    make_shapes(k) in general (the factors are drawn column by column), but the same (n, seed) always
    gives the same images. progress(done, n) is called as images are drawn.
    """
    _check_count("n", n)
    _check_size(image_size)
    exact = _sample_factors(n, np.random.default_rng(seed))   # float64: drawn from exactly these values
    images = render_shapes(exact, image_size, progress=progress)
    return images, exact.astype(np.float32)


def sample_shape_factors(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` factor rows drawn as make_shapes draws them: float32 (n, 5), columns SHAPE_FACTOR_NAMES."""
    return _sample_factors(n, rng).astype(np.float32)


def _sample_factors(n: int, rng: np.random.Generator) -> np.ndarray:
    shape = rng.integers(0, len(SHAPE_NAMES), n)
    scale = SHAPE_SCALES[rng.integers(0, len(SHAPE_SCALES), n)]
    rotation = rng.random(n) * _SHAPE_PERIODS[shape]
    x, y = rng.random(n), rng.random(n)
    return np.stack([shape, scale, rotation, x, y], axis=1).astype(np.float64)


def render_shapes(factors: np.ndarray, image_size: int = 32,
                  progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Draw the images of given factor values: float (n, 5) with columns SHAPE_FACTOR_NAMES (as make_shapes
    returns them; any scale in (0, 1] and any rotation are drawn as given) -> uint8 (n, 1, S, S).

    Lets a caller fix one factor and vary the others (the FactorVAE score's samples). Draws _STRIP
    images at a time on one tall canvas (a column of S*4-pixel tiles, one polygon per tile, then one
    4x4 box reduction): the same pixels as drawing each image on its own canvas, about 3x faster.
    progress(done, n) is called after each strip.
    """
    _check_size(image_size)
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2 or factors.shape[1] != len(SHAPE_FACTOR_NAMES):
        raise DataError(f"factors must be (n, {len(SHAPE_FACTOR_NAMES)}) with columns {SHAPE_FACTOR_NAMES}, "
                        f"got shape {factors.shape}")
    shape = factors[:, 0].astype(np.int64)
    if not np.isfinite(factors).all() or (shape != factors[:, 0]).any() or shape.min(initial=0) < 0 \
            or shape.max(initial=0) >= len(SHAPE_NAMES):
        raise DataError(f"the shape factor must be a class index 0..{len(SHAPE_NAMES) - 1} and all factors finite")
    n = len(factors)
    big = image_size * _SUPERSAMPLE
    images = np.empty((n, 1, image_size, image_size), dtype=np.uint8)
    strip = Image.new("L", (big, big * min(_STRIP, max(n, 1))), 0)
    for start in range(0, n, _STRIP):
        m = min(_STRIP, n - start)
        polygons = _tile_polygons(factors[start:start + m], shape[start:start + m], big)
        if start:
            strip.paste(0, (0, 0, big, big * m))
        draw = ImageDraw.Draw(strip)
        for j, polygon in enumerate(polygons):
            if isinstance(polygon, list):
                draw.polygon(polygon, fill=255)
            else:   # a shape reaching outside its tile (x or y outside 0..1): drawn alone, as given
                canvas = Image.new("L", (big, big), 0)
                ImageDraw.Draw(canvas).polygon(polygon.tolist(), fill=255)
                strip.paste(canvas, (0, j * big))
        images[start:start + m, 0] = np.asarray(strip.reduce(_SUPERSAMPLE)).reshape(-1, image_size, image_size)[:m]
        if progress is not None:
            progress(start + m, n)
    return images


_STRIP = 256  # images drawn per canvas: 128 x 32768 pixels at S=32 (4 MB)


def _tile_polygons(factors: np.ndarray, shape: np.ndarray, big: int) -> list:
    """The outline of each of m shapes on a column of m tiles of big x big canvas pixels.

    factors float64 (m, 5), shape int64 (m,). Returns, per image, a flat list of int vertex coordinates
    [x0, y0, x1, y1, ...] already moved down to its tile (row j at y offset j * big), or, for a shape
    that leaves its tile, its float (K, 2) vertices on its own canvas. Pillow truncates polygon vertices
    to ints, so integer vertices moved by whole tiles fill exactly the pixels they filled alone.
    """
    polygons: list = [None] * len(factors)
    for idx, px, py in _canvas_outlines(factors, shape, big):
        inside = ((px >= 0) & (px < big) & (py >= 0) & (py < big)).all(axis=1)
        vertices = np.stack([np.floor(px), np.floor(py) + (idx * big)[:, None]], axis=2).astype(np.int64)
        flat = vertices.reshape(len(idx), -1).tolist()
        for j, (row, i, ok) in enumerate(zip(flat, idx.tolist(), inside.tolist())):
            polygons[i] = row if ok else np.stack([px[j], py[j]], axis=1)
    return polygons


def _canvas_outlines(factors: np.ndarray, shape: np.ndarray, big: int):
    """Per shape kind present: (idx int64 (m_k,), px, py float64 (m_k, K)), the outline vertices of those
    images on a big x big canvas (x right, y down: image rows)."""
    scale, rotation, x, y = (factors[:, k] for k in range(1, 5))
    margin = _POSITION_MARGIN * big  # canvas pixels
    cx = margin + x * (big - 2 * margin)
    cy = margin + y * (big - 2 * margin)
    radius = _MAX_RADIUS * big * scale
    cos, sin = np.cos(rotation), np.sin(rotation)
    for k, outline in enumerate(_OUTLINES):
        idx = np.flatnonzero(shape == k)
        if len(idx) == 0:
            continue
        # rotate counter-clockwise (y up), scale to canvas pixels, flip y to image rows: (m_k, K)
        r = radius[idx, None]
        px = cx[idx, None] + r * (outline[:, 0] * cos[idx, None] - outline[:, 1] * sin[idx, None])
        py = cy[idx, None] - r * (outline[:, 0] * sin[idx, None] + outline[:, 1] * cos[idx, None])
        yield idx, px, py


def render_shapes_one_by_one(factors: np.ndarray, image_size: int = 32) -> np.ndarray:
    """render_shapes as it was before the strip version (one canvas per image, float vertices): float (n, 5)
    valid factors -> uint8 (n, 1, S, S), the same pixels, about 3x slower. The reference of the tests and
    of bench/shapes_render.py; not validated (call render_shapes)."""
    factors = np.asarray(factors, dtype=np.float64)
    big = image_size * _SUPERSAMPLE
    images = np.empty((len(factors), 1, image_size, image_size), dtype=np.uint8)
    for idx, px, py in _canvas_outlines(factors, factors[:, 0].astype(np.int64), big):
        for i, flat in zip(idx, np.stack([px, py], axis=2).reshape(len(idx), -1).tolist()):
            canvas = Image.new("L", (big, big), 0)
            ImageDraw.Draw(canvas).polygon(flat, fill=255)
            images[i, 0] = np.asarray(canvas.reduce(_SUPERSAMPLE))
    return images
