"""How faithful a map is, for reporting beside its time: trustworthiness and 10-NN label accuracy.

    q = map_quality(mu, embedding, labels)      # {"trustworthiness": 0.97, "knn_accuracy": 0.93, "sample": 2000}
    format_quality(q)                           # "trustworthiness 0.970, 10-NN accuracy 0.930"

Trustworthiness (Venna & Kaski; scikit-learn's `trustworthiness`, k = 10) is 1 when every point's k
nearest neighbours on the map are also among its nearest in the latent space, lower when the map
invents neighbours. It needs all pairwise distances, so it is computed on a seeded sample of at most
`sample` rows (2,000: a 2,000 x 2,000 matrix, a fraction of a second), as bench/projection_time.py
does. 10-NN accuracy (vae.analysis.projection.knn_label_accuracy: leave-one-out majority vote of the
10 nearest map points) is computed on every row (a k-d tree in 2-D: about a second for 70,000).
"""

from __future__ import annotations

import numpy as np

__all__ = ["map_quality", "format_quality", "QUALITY_SAMPLE"]

QUALITY_SAMPLE = 2000      # rows trustworthiness is computed on (all pairwise distances)


def map_quality(mu, embedding, labels=None, *, k: int = 10, sample: int = QUALITY_SAMPLE, seed: int = 0) -> dict:
    """mu (N, D) latent points, embedding (N, m) their map, labels (N,) int or None ->
    {"trustworthiness": float in [0, 1] (on a seeded sample of min(N, sample) rows),
     "knn_accuracy": float in [0, 1] or None (no labels), "sample": rows in the trustworthiness sample, "k": k}."""
    from sklearn.manifold import trustworthiness

    from vae.analysis.projection import knn_label_accuracy

    x = np.asarray(mu, dtype=np.float64)
    e = np.asarray(embedding, dtype=np.float64)
    if x.ndim != 2 or e.ndim != 2 or len(x) != len(e):
        raise ValueError(f"need mu (N, D) and embedding (N, m) of the same N, got {x.shape} and {e.shape}")
    n = len(x)
    if n < 3:
        raise ValueError(f"map quality needs at least 3 points, got {n}")
    sub = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False)) if n > sample else np.arange(n)
    kk = min(k, (len(sub) - 1) // 2)          # scikit-learn requires k < n / 2 (small maps: fewer neighbours)
    trust = float(trustworthiness(x[sub], e[sub], n_neighbors=kk))
    acc = None if labels is None else knn_label_accuracy(e, np.asarray(labels), k=k)
    return {"trustworthiness": trust, "knn_accuracy": acc, "sample": int(len(sub)), "k": int(k)}


def format_quality(q: dict | None) -> str:
    """"trustworthiness 0.970, 10-NN accuracy 0.930" (the accuracy left out when there were no labels)."""
    if not q:
        return ""
    text = f"trustworthiness {q['trustworthiness']:.3f}"
    if q.get("knn_accuracy") is not None:
        text += f", {q.get('k', 10)}-NN accuracy {q['knn_accuracy']:.3f}"
    return text
