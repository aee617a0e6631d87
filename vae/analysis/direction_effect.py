"""What a latent direction does to a data set's factor, in the factor's own units, measured through the model.

    e = direction_effect(model, mu, logvar, values, d)   # DirectionEffect
    e.per_unit        # moving by 1 x d changes the factor by this much (factor units), decoded and re-encoded
    e.factor_sd       # the factor's standard deviation over the points, for scale

The measure: a linear regression of the factor on the posterior means of the active dimensions
(fitted on the N points given); then for n of the points, decode z and z + d, re-encode both images and
take the mean difference of the regression's predictions. Decoding and re-encoding both ends makes it
honest: a step the decoder ignores changes the re-encoded means, and so the prediction, by nothing,
and the round trip's own bias cancels in the difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vae.analysis.directions import active_dims
from vae.analysis.latent import decode_numpy, encode_dataset


@dataclass(frozen=True)
class DirectionEffect:
    """The factor's change per unit of strength along a direction (factor units), and how it was measured."""

    per_unit: float          # mean change of the predicted factor after z -> z + d (decoded, re-encoded)
    factor_sd: float         # standard deviation of the factor over the points
    r2: float                # the regression's R^2 on the points (how well the latent means predict the factor)
    n: int                   # points decoded and re-encoded
    active: tuple[int, ...]  # the dimensions (0-based indices) the regression uses


def direction_effect(model, mu, logvar, values, direction, n: int = 256) -> DirectionEffect:
    """Measure `direction` (D,) on the factor `values` (N,) of points with posteriors mu, logvar (N, D).

    The model decodes z = mu[:n] and z + direction (means of p(x|z), as uint8 images) and encodes them back;
    the factor's change is read by a least-squares regression of `values` on mu's active dimensions
    (active_dims(mu, logvar)), with an intercept. Raises ValueError on mismatched shapes.
    """
    x = np.asarray(mu, dtype=np.float64)
    f = np.asarray(values, dtype=np.float64).ravel()
    d = np.asarray(direction, dtype=np.float64).ravel()
    if x.ndim != 2 or len(f) != len(x) or d.shape != (x.shape[1],):
        raise ValueError(f"mu (N, D), values (N,) and direction (D,) do not fit: {x.shape}, {f.shape}, {d.shape}")
    active = active_dims(x, logvar)
    if not active.any():
        active = np.ones(x.shape[1], dtype=bool)
    design = np.column_stack([x[:, active], np.ones(len(x))])
    coef, *_ = np.linalg.lstsq(design, f, rcond=None)
    pred = design @ coef
    r2 = 1.0 - float(((f - pred) ** 2).sum()) / max(float(((f - f.mean()) ** 2).sum()), 1e-300)
    z = x[: max(1, int(n))].astype(np.float32)

    def predicted(points: np.ndarray) -> np.ndarray:
        m, _ = encode_dataset(model, decode_numpy(model, points))
        return np.asarray(m, np.float64)[:, active] @ coef[:-1] + coef[-1]

    change = predicted(z + d.astype(np.float32)) - predicted(z)
    return DirectionEffect(per_unit=float(change.mean()), factor_sd=float(f.std()), r2=r2, n=len(z),
                           active=tuple(int(i) for i in np.flatnonzero(active)))
