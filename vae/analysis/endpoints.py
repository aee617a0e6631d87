"""Endpoints that show something: two typical images of different classes, far apart in latent space.

    i, j = distant_typical_pair(mu, labels)     # indices into mu's rows

Test images #0 and #1 often lie side by side in latent space, so an interpolation between them is ten
near-identical frames. Here each class is represented by its most typical image (the one nearest its
class's mean latent), and the two classes whose typical images lie farthest apart are chosen.
"""

from __future__ import annotations

import numpy as np


def distant_typical_pair(mu: np.ndarray, labels: np.ndarray) -> tuple[int, int]:
    """(i, j): rows of mu (N, D) with different labels, each its class's most typical point, as far apart
    as any two such points are. With a single class: the two points farthest apart among its first 2000.
    Raises ValueError for fewer than 2 points."""
    mu = np.asarray(mu, dtype=np.float64)
    labels = np.asarray(labels)
    if len(mu) < 2:
        raise ValueError(f"need at least 2 points, got {len(mu)}")
    classes = np.unique(labels)
    if len(classes) < 2:
        sub = mu[:2000]
        d = ((sub[:, None, :] - sub[None, :, :]) ** 2).sum(-1)
        i, j = np.unravel_index(int(np.argmax(d)), d.shape)
        return int(i), int(j)
    typical = []
    for c in classes:
        rows = np.nonzero(labels == c)[0]
        centre = mu[rows].mean(0)
        typical.append(int(rows[np.argmin(((mu[rows] - centre) ** 2).sum(1))]))
    t = mu[typical]
    d = ((t[:, None, :] - t[None, :, :]) ** 2).sum(-1)
    a, b = np.unravel_index(int(np.argmax(d)), d.shape)
    return typical[a], typical[b]
