"""Nearest neighbours in latent space: the k encoded images closest to a query point.

    idx, dist = nearest_neighbours(q_mu, mu, k=8)                                  # Euclidean on the means
    idx, dist = nearest_neighbours(q_mu, mu, k=8, metric="kl", query_logvar=q_lv, logvar=logvar)

Two distances:
  - "euclidean": ||mu_q - mu_i|| between posterior means, in latent units (the prior's standard deviation).
  - "kl": the symmetric KL divergence between the diagonal Gaussians q(z|x_q) and q(z|x_i),
    KL(q||q_i) + KL(q_i||q), in nats; it weighs each direction by how sure both encoders are, so two
    images with broad, overlapping posteriors are near even when their means are apart.

Everything is exact (brute force in float64 chunks): ~2 ms for one query against 10,000 x 20.
"""

from __future__ import annotations

import numpy as np

__all__ = ["METRICS", "symmetric_kl", "pairwise_distances", "nearest_neighbours"]

METRICS = {"euclidean": "Euclidean distance between the means", "kl": "symmetric KL between the q's (nats)"}


def _as_2d(a, name: str) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (M, D) or (D,), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def symmetric_kl(mu_a, logvar_a, mu_b, logvar_b) -> np.ndarray:
    """KL(a||b) + KL(b||a) of diagonal Gaussians N(mu, exp(logvar)), broadcast over leading axes, summed
    over the last (D): nats.

        = 1/2 sum_d [ va/vb + vb/va - 2 + (ma - mb)^2 (1/va + 1/vb) ]
    """
    ma, la, mb, lb = (np.asarray(v, dtype=np.float64) for v in (mu_a, logvar_a, mu_b, logvar_b))
    ratio = np.exp(la - lb)
    diff2 = (ma - mb) ** 2
    return 0.5 * (ratio + 1.0 / ratio - 2.0 + diff2 * (np.exp(-la) + np.exp(-lb))).sum(-1)


def pairwise_distances(query_mu, mu, metric: str = "euclidean", query_logvar=None, logvar=None) -> np.ndarray:
    """Distances from each of M queries to each of N points: (M, N) float64 (see the module docstring)."""
    q, m = _as_2d(query_mu, "query_mu"), _as_2d(mu, "mu")
    if q.shape[1] != m.shape[1]:
        raise ValueError(f"query_mu has {q.shape[1]} dims but mu has {m.shape[1]}")
    if metric == "euclidean":
        return np.sqrt(((q[:, None, :] - m[None, :, :]) ** 2).sum(-1))
    if metric == "kl":
        if query_logvar is None or logvar is None:
            raise ValueError("the symmetric KL needs query_logvar and logvar (the log-variances of the q's)")
        ql, ml = _as_2d(query_logvar, "query_logvar"), _as_2d(logvar, "logvar")
        if ql.shape != q.shape or ml.shape != m.shape:
            raise ValueError(f"log-variances must match the means: {ql.shape} vs {q.shape}, {ml.shape} vs {m.shape}")
        return symmetric_kl(q[:, None, :], ql[:, None, :], m[None, :, :], ml[None, :, :])
    raise ValueError(f"unknown metric {metric!r}; expected one of {list(METRICS)}")


def nearest_neighbours(query_mu, mu, k: int = 8, metric: str = "euclidean", query_logvar=None, logvar=None,
                       exclude=None, chunk_elements: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest of N points to each of M queries, nearest first.

    query_mu (M, D) or (D,); mu (N, D); for metric="kl" also query_logvar and logvar of the same shapes.
    exclude: None, or (M,) positions into mu (-1 for none) to leave out per query (the query itself
    when it is one of the points). Returns (indices int64 (M, k'), distances float64 (M, k')) with
    k' = min(k, N - excluded); ties are broken by the lower index. (D,) in -> (k',) arrays out.
    """
    single = np.ndim(query_mu) == 1
    q, m = _as_2d(query_mu, "query_mu"), _as_2d(mu, "mu")
    if m.shape[0] == 0:
        raise ValueError("mu holds no points")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    ex = np.full(len(q), -1, np.int64) if exclude is None else np.atleast_1d(np.asarray(exclude, np.int64))
    if ex.shape != (len(q),):
        raise ValueError(f"exclude must give one position per query ({len(q)}), got shape {ex.shape}")
    kk = int(min(k, m.shape[0] - (1 if (ex >= 0).any() else 0)))
    if kk < 1:
        raise ValueError("no points left to be neighbours")
    ql = None if query_logvar is None else _as_2d(query_logvar, "query_logvar")
    step = max(1, chunk_elements // max(1, m.size))
    idx = np.empty((len(q), kk), np.int64)
    dist = np.empty((len(q), kk), np.float64)
    for i in range(0, len(q), step):
        d = pairwise_distances(q[i:i + step], m, metric, None if ql is None else ql[i:i + step], logvar)
        rows = np.arange(len(d))
        e = ex[i:i + step]
        d[rows[e >= 0], e[e >= 0]] = np.inf
        order = np.lexsort((np.broadcast_to(np.arange(m.shape[0]), d.shape), d), axis=-1)[:, :kk]
        idx[i:i + step] = order
        dist[i:i + step] = np.take_along_axis(d, order, axis=1)
    if single:
        return idx[0], dist[0]
    return idx, dist
