"""The Posterior page's glue: pick one image x, compute both sides of

    log p(x) = ELBO(x) + KL(q(z|x) || p(z|x))

with vae.analysis.likelihood (cached by model id + image bytes + settings), and draw them with Plotly.

    DataPoint                         the image x the page explains: uint8 (C, H, W) and where it came from
    image_from_bytes(data, name, shape, invert) -> uint8 (C, H, W)     an uploaded / drawn PNG or JPEG
    pick_data_point(ctx) -> DataPoint | None                           the widgets choosing x
    grid_view(...), iwae_curve(...)    cached posterior_grid; iwae_log_likelihood by K in groups, with progress
    display_extent(grid_view)          the box around the posterior's visible mass (the "zoom" view)
    posterior_figure, identity_figure, gap_by_k_figure                 Plotly figures (pure functions)

The image x lives in posterior_image.py, the cached computations in posterior_computations.py,
the figures in posterior_figures.py; this module holds the page's view choices and re-exports
them all, so the page imports one module.

All numbers are nats per image, summed over pixels.
"""

from __future__ import annotations

from vae.ui.posterior.computations import (
    DEFAULT_BUDGET,
    DEFAULT_MAX_K,
    GRID_SIZE,
    IWAE_REPEATS,
    K_CHOICES,
    SAMPLES_PER_K,
    GridView,
    IWAECurve,
    curve_ks,
    default_max_k,
    display_extent,
    grid_view,
    iwae_curve,
    iwae_curve_with_bar,
    reconstruction,
    repeats_for,
)
from vae.ui.posterior.figures import (
    POST_COLOUR,
    PRIOR_COLOUR,
    Q_COLOUR,
    gap_by_k_figure,
    identity_figure,
    posterior_figure,
)
from vae.ui.posterior.image_input import (DataPoint, ImageInputError, image_from_bytes, image_from_drawing,
                                          pick_data_point)

ZOOM, PRIOR = "Zoom to the posterior", "Prior scale (|z| ≤ 4)"
PRIOR_EXTENT = 4.0

__all__ = ["DEFAULT_BUDGET", "DEFAULT_MAX_K", "GRID_SIZE", "IWAE_REPEATS", "K_CHOICES", "POST_COLOUR", "PRIOR",
           "PRIOR_COLOUR", "PRIOR_EXTENT", "Q_COLOUR", "SAMPLES_PER_K", "ZOOM", "DataPoint", "GridView",
           "IWAECurve", "ImageInputError", "curve_ks", "default_max_k", "display_extent", "gap_by_k_figure",
           "grid_view", "identity_figure", "image_from_bytes", "image_from_drawing", "iwae_curve", "iwae_curve_with_bar", "pick_data_point", "posterior_figure",
           "reconstruction", "repeats_for"]
