"""Search, filter and colour the Latent map's points: pure numpy, no Streamlit (the widgets are in filter_bar).

    f = MapFilter(labels=(3, 7), index_text="0-99, 512", log_px=(-120.0, -80.0), isolated=None)
    keep = filter_mask(f, index, labels, log_px)        # (N,) bool over the map's points
    view = take_view(view, np.flatnonzero(keep))        # a MapView of the kept points only
    lo, hi = clipped_range(values, (2, 98))             # a colour range that ignores the extreme 2 % each side

Filtered-out points are hidden: the map (WebGL or Plotly) is drawn from the kept points' view, so its
selection, neighbours and export all speak of the points shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vae.dims import dim_label

RECON_ERROR = "reconstruction error (MSE)"
MAX_INDEX_TERMS = 1000


class FilterInputError(ValueError):
    """A search text that cannot be read (said on the page as it is)."""


@dataclass(frozen=True)
class MapFilter:
    """Which points the map shows; a field left None (or empty) does not filter."""

    labels: tuple[int, ...] | None = None              # class ids kept
    index_text: str = ""                               # "12, 40-60": dataset indices kept
    log_px: tuple[float, float] | None = None          # [lo, hi] nats, where a likelihood ranking is known
    isolated: tuple[int, ...] | None = None            # dataset indices of an isolated selection

    @property
    def active(self) -> bool:
        return bool(self.labels is not None or self.index_text.strip() or self.log_px is not None
                    or self.isolated is not None)

    def signature(self) -> str:
        """A short text that changes whenever the filter does (keys the chart: a new filter, a fresh selection)."""
        import hashlib

        if not self.active:
            return ""
        return hashlib.sha1(repr((self.labels, self.index_text.strip(), self.log_px, self.isolated))
                            .encode()).hexdigest()[:10]


def parse_indices(text: str) -> list[tuple[int, int]]:
    """'12, 40-60 100' -> [(12, 12), (40, 60), (100, 100)]: inclusive ranges of dataset indices.

    Commas or spaces separate terms; a term is an index or a range a-b (a <= b). Raises FilterInputError
    naming the first term that is not one.
    """
    out: list[tuple[int, int]] = []
    terms = [t for t in text.replace(",", " ").split() if t]
    if len(terms) > MAX_INDEX_TERMS:
        raise FilterInputError(f"at most {MAX_INDEX_TERMS} indices or ranges, got {len(terms)}")
    for t in terms:
        a, sep, b = t.partition("-")
        try:
            lo, hi = int(a), int(b) if sep else int(a)
        except ValueError:
            raise FilterInputError(f"{t!r} is not an index or a range like 40-60") from None
        if lo < 0 or hi < lo:
            raise FilterInputError(f"{t!r}: indices are 0 or more, a range runs low-high")
        out.append((lo, hi))
    return out


def filter_mask(f: MapFilter, index: np.ndarray, labels: np.ndarray, log_px: np.ndarray | None = None) -> np.ndarray:
    """(N,) bool: the points `f` keeps. index (N,) dataset indices, labels (N,) ints, log_px (N,) nats or None.

    A log p(x) range without log_px values keeps every point (no ranking yet); raises FilterInputError for
    an unreadable index text.
    """
    index = np.asarray(index, np.int64)
    keep = np.ones(len(index), bool)
    if f.labels is not None:
        keep &= np.isin(np.asarray(labels, np.int64), np.asarray(f.labels, np.int64))
    if f.index_text.strip():
        ranges = parse_indices(f.index_text)
        hit = np.zeros(len(index), bool)
        for lo, hi in ranges:
            hit |= (index >= lo) & (index <= hi)
        keep &= hit
    if f.log_px is not None and log_px is not None:
        v = np.asarray(log_px, np.float64)
        keep &= (v >= f.log_px[0]) & (v <= f.log_px[1])
    if f.isolated is not None:
        keep &= np.isin(index, np.asarray(f.isolated, np.int64))
    return keep


def take_view(view, positions: np.ndarray):
    """The MapView cut to the points at `positions` (sorted ints into view.lat); coordinates are kept."""
    pos = np.asarray(positions, np.int64)
    lat = view.lat
    sub = replace(lat, index=lat.index[pos], mu=lat.mu[pos], logvar=lat.logvar[pos], labels=lat.labels[pos],
                  factors=None if lat.factors is None else lat.factors[pos])
    return replace(view, lat=sub, xy=view.xy[pos])


def clipped_range(values: np.ndarray, percentiles: tuple[float, float] = (2.0, 98.0)) -> tuple[float, float]:
    """(lo, hi): the values' percentiles (ignoring NaN); a colour scale clipped to them shows the bulk of the
    points, the extremes take the end colours. Equal ends (constant values) are widened by 0.5 each way."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return 0.0, 1.0
    p0, p1 = sorted((float(percentiles[0]), float(percentiles[1])))
    lo, hi = np.percentile(v, [max(0.0, p0), min(100.0, p1)])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return float(lo), float(hi)


def dim_options(latent_dim: int) -> list[str]:
    """'Colour by' names of the latent dimensions, numbered as on every page (vae.dims: z1 .. zD)."""
    return [dim_label(i) for i in range(latent_dim)]


def dim_values(name: str, mu: np.ndarray) -> np.ndarray | None:
    """The column of mu (N, D) that the 'Colour by' name `name` ('z3' -> mu[:, 2]) names, or None."""
    for i in range(mu.shape[1]):
        if dim_label(i) == name:
            return np.asarray(mu[:, i], np.float64)
    return None


def reconstruction_error(images: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Mean squared error per image, pixels in [0, 1]: images uint8 (N, C, H, W), recon float [0, 1] same shape -> (N,)."""
    x = np.asarray(images, np.float32) / 255.0
    r = np.asarray(recon, np.float32)
    if x.shape != r.shape:
        raise ValueError(f"images {x.shape} and reconstructions {r.shape} differ in shape")
    return ((x - r) ** 2).reshape(len(x), -1).mean(1)
