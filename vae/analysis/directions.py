"""Directions in latent space: attribute vectors, arithmetic, analogies and custom axes.

    d = class_direction(mu, labels, a=3, b=8)          # mean of class 8 minus mean of class 3, (D,)
    d = factor_direction(mu, factors[:, 1], logvar)     # the direction that best predicts a factor (active dims)
    active = active_dims(mu, logvar)                    # (D,) bool: the dimensions the decoder uses
    d = group_direction(mu, idx_a, idx_b)               # from two selections: mean(B) - mean(A)
    z2 = apply_direction(z, d, strength=1.5)            # z + 1.5 d
    z = analogy(za, zb, zc)                             # a - b + c ("a is to b as ? is to c")
    axes = CustomAxes.from_directions(d1, d2, centre=mu.mean(0));  xy = axes.transform(mu)

Latents are numpy float arrays (N, D) of posterior means; directions are (D,) vectors in the same
units. A direction's length matters: strength 1 moves a point by the whole vector (from the mean
of A to the mean of B, or by one standard deviation of the factor's prediction).
A `Direction` (name, vector, how it was made) serialises to JSON and back, never to pickle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ACTIVE_KL", "Direction", "active_dims", "class_direction", "group_direction", "factor_direction",
           "apply_direction", "analogy", "CustomAxes", "directions_to_json", "directions_from_json"]

ACTIVE_KL = 0.01     # nats: a dimension whose mean KL(q(z_d|x) || N(0, 1)) is below this is inactive (collapsed)


def _points(mu, name: str = "mu") -> np.ndarray:
    if hasattr(mu, "detach"):
        mu = mu.detach().cpu().numpy()
    x = np.asarray(mu, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (N, D) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _vector(v, d: int | None = None, name: str = "direction") -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 1 or (d is not None and v.shape[0] != d):
        raise ValueError(f"{name} must be a vector ({d if d is not None else 'D'},), got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return v


@dataclass
class Direction:
    """A named latent direction: vector (D,) float64 and a note on how it was made."""

    name: str
    vector: np.ndarray
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.vector.shape[0])

    @property
    def norm(self) -> float:
        return float(np.linalg.norm(self.vector))

    def to_dict(self) -> dict:
        return {"name": self.name, "vector": [float(v) for v in self.vector], "source": self.source,
                "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict) -> "Direction":
        if not isinstance(d, dict) or not isinstance(d.get("name"), str) or not d["name"].strip():
            raise ValueError("each direction needs a non-empty string 'name'")
        vec = d.get("vector")
        if not isinstance(vec, list) or not vec or not all(isinstance(v, (int, float)) for v in vec):
            raise ValueError(f"direction {d['name']!r}: 'vector' must be a non-empty list of numbers")
        meta = d.get("meta") or {}
        if not isinstance(meta, dict):
            raise ValueError(f"direction {d['name']!r}: 'meta' must be an object")
        return cls(d["name"].strip(), _vector(vec, name=f"direction {d['name']!r}"), str(d.get("source", "")), meta)


def group_direction(mu, idx_a, idx_b) -> np.ndarray:
    """mean(mu[idx_b]) - mean(mu[idx_a]): (D,), from the points of group A towards those of group B."""
    x = _points(mu)
    a, b = np.asarray(idx_a, dtype=np.int64).ravel(), np.asarray(idx_b, dtype=np.int64).ravel()
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"both groups need at least one point (A has {len(a)}, B has {len(b)})")
    for name, g in (("A", a), ("B", b)):
        if g.min() < 0 or g.max() >= len(x):
            raise ValueError(f"group {name} has positions outside 0..{len(x) - 1}")
    return x[b].mean(0) - x[a].mean(0)


def class_direction(mu, labels, a: int, b: int) -> np.ndarray:
    """Attribute vector from class a to class b: mean of the means labelled b minus those labelled a, (D,)."""
    y = np.asarray(labels).ravel()
    x = _points(mu)
    if len(y) != len(x):
        raise ValueError(f"mu has {len(x)} points but labels has {len(y)}")
    if a == b:
        raise ValueError("classes A and B are the same: the direction would be zero")
    ia, ib = np.flatnonzero(y == a), np.flatnonzero(y == b)
    if len(ia) == 0 or len(ib) == 0:
        raise ValueError(f"no points labelled {a if len(ia) == 0 else b}")
    return group_direction(x, ia, ib)


def active_dims(mu, logvar=None, min_kl: float = ACTIVE_KL) -> np.ndarray:
    """The latent dimensions a model uses: (D,) bool, from the posteriors of N data points.

    mu, logvar: (N, D) means and log-variances of q(z|x). With logvar, a dimension is active when its mean
    KL(q(z_d|x) || N(0, 1)) over the points exceeds `min_kl` nats (the usual "active unit" test: a collapsed
    dimension has q(z_d|x) = p(z_d) for every x, KL 0, and the decoder ignores it). Without logvar, when
    the variance of its means over the points exceeds `min_kl` (an active dimension's means spread over
    most of the prior's unit variance; a collapsed one's stay at 0).
    """
    x = _points(mu)
    if logvar is None:
        return x.var(axis=0) > min_kl
    lv = _points(logvar, "logvar")
    if lv.shape != x.shape:
        raise ValueError(f"mu has shape {x.shape} but logvar has {lv.shape}")
    kl = 0.5 * (x ** 2 + np.exp(lv) - 1.0 - lv)                 # (N, D) nats
    return kl.mean(axis=0) > min_kl


def factor_direction(mu, values, logvar=None, *, active=None) -> np.ndarray:
    """The direction that best predicts a factor from the dimensions the model uses: (D,).

    mu (N, D) posterior means, values (N,) the factor, logvar (N, D) optional. Least squares of the
    centred factor on the centred means of the active dimensions (`active` (D,) bool, by default
    active_dims(mu, logvar)), f - mean(f) ~ (mu_A - mean(mu_A)) w; the other dimensions get weight 0.
    Fitted on every dimension, a beta-VAE's collapsed ones (means nearly constant) took large weights and
    the vector came out short and pointing where the decoder does not look (issue 27).
    The result is w scaled so that moving a point by it raises the predicted factor by one standard
    deviation of the factor: d = w std(f) / |w|^2 (so w . d = std(f), in the factor's units).
    """
    x = _points(mu)
    f = np.asarray(values, dtype=np.float64).ravel()
    if len(f) != len(x):
        raise ValueError(f"mu has {len(x)} points but the factor has {len(f)} values")
    if not np.isfinite(f).all():
        raise ValueError("the factor contains NaN or infinite values")
    sd = f.std()
    if sd == 0:
        raise ValueError("the factor is constant: no direction predicts it")
    use = active_dims(x, logvar) if active is None else np.asarray(active, dtype=bool).ravel()
    if use.shape != (x.shape[1],):
        raise ValueError(f"active must be ({x.shape[1]},) booleans, got shape {use.shape}")
    if not use.any():
        raise ValueError("no latent dimension is active: the model ignores its latent code")
    xa = x[:, use]
    w = np.zeros(x.shape[1])
    w[use], *_ = np.linalg.lstsq(xa - xa.mean(0), f - f.mean(), rcond=None)
    nw = float(w @ w)
    if nw == 0:
        raise ValueError("the factor is uncorrelated with the latent means")
    return w * sd / nw


def apply_direction(z, direction, strength: float = 1.0) -> np.ndarray:
    """z + strength * direction: (D,) or (M, D) -> same shape, float32."""
    z = np.asarray(z, dtype=np.float64)
    d = _vector(direction, z.shape[-1])
    return (z + float(strength) * d).astype(np.float32)


def analogy(za, zb, zc) -> np.ndarray:
    """Latent arithmetic a - b + c, (D,) float32: "a is to b as the result is to c" (e.g. a smiling
    woman - a woman + a man = a smiling man)."""
    a = _vector(za, name="a")
    b, c = _vector(zb, len(a), "b"), _vector(zc, len(a), "c")
    return (a - b + c).astype(np.float32)


@dataclass
class CustomAxes:
    """A linear map onto two (or three) chosen directions, the Embedding Projector's custom projection.

    transform(z) = (z - centre) @ U.T with U (k, D) the directions scaled to unit length (not
    orthogonalised: each coordinate is the component along its direction, as a reader expects).
    inverse_transform(p) is the point of the span of U through `centre` that maps to p (the
    least-norm solution; exact when the directions are independent).
    """

    units: np.ndarray            # (k, D) unit rows
    centre: np.ndarray           # (D,)
    names: tuple[str, ...] = ()

    @classmethod
    def from_directions(cls, *directions, centre=None, names=()) -> "CustomAxes":
        if len(directions) not in (2, 3):
            raise ValueError(f"custom axes need 2 or 3 directions, got {len(directions)}")
        vs = [_vector(d, name=f"direction {i + 1}") for i, d in enumerate(directions)]
        if len({len(v) for v in vs}) != 1:
            raise ValueError("the directions have different lengths")
        norms = [np.linalg.norm(v) for v in vs]
        if min(norms) == 0:
            raise ValueError("a direction of length zero cannot be an axis")
        units = np.stack([v / n for v, n in zip(vs, norms)])
        if np.linalg.matrix_rank(units, tol=1e-6) < len(vs):
            raise ValueError("the directions are parallel: they span no plane")
        c = np.zeros(units.shape[1]) if centre is None else _vector(centre, units.shape[1], "centre")
        return cls(units, c, tuple(names))

    @property
    def cosine(self) -> float:
        """Cosine of the angle between the first two axes (0 when they are orthogonal)."""
        return float(self.units[0] @ self.units[1])

    def transform(self, z) -> np.ndarray:
        """Latent points (M, D) or (D,) -> coordinates float32 (M, k) or (k,)."""
        z = np.asarray(z, dtype=np.float64)
        return ((z - self.centre) @ self.units.T).astype(np.float32)

    def inverse_transform(self, p) -> np.ndarray:
        """Coordinates (M, k) or (k,) -> latent points float32 (M, D) or (D,) in the axes' span."""
        p = np.asarray(p, dtype=np.float64)
        return (p @ np.linalg.pinv(self.units).T + self.centre).astype(np.float32)


def directions_to_json(directions) -> str:
    """Directions as a JSON document {"format": "vae-directions", "version": 1, "directions": [...]}."""
    return json.dumps({"format": "vae-directions", "version": 1,
                       "directions": [d.to_dict() for d in directions]}, indent=1)


def directions_from_json(text: str | bytes, latent_dim: int | None = None) -> list[Direction]:
    """Parse directions_to_json's output; raises ValueError naming the problem (never unpickles)."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"not a JSON file: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != "vae-directions":
        raise ValueError("not a directions file (expected {\"format\": \"vae-directions\", ...})")
    items = doc.get("directions")
    if not isinstance(items, list):
        raise ValueError("'directions' must be a list")
    out = [Direction.from_dict(d) for d in items]
    if latent_dim is not None:
        bad = [d.name for d in out if d.dim != latent_dim]
        if bad:
            raise ValueError(f"direction(s) {', '.join(map(repr, bad))} are not {latent_dim}-d like this model's latent")
    return out
