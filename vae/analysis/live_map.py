"""A live latent map while training: the latent means of a fixed subset of test images, captured as
frames during training (no Streamlit here; vae/ui/training/live_map.py draws them).

Each frame is 2-d: the latent space itself for a 2-d model, otherwise its PCA (fit once per frame,
on that frame's means; each component's sign is chosen to agree with the previous frame, so a
replay does not flip). A frame is taken at the end of every epoch and, within long epochs, every
`interval_s` seconds, but never so often that capturing costs more than `max_overhead` of the
training time (it skips a capture instead; the last epoch is always captured).

    live = LiveLatentMap.from_dataset(dataset, n_max=2000)
    live.maybe_capture(model, epoch=3.0, step=420)      # from a Trainer callback
    frames = live.frames()                                # [LatentFrame, ...], oldest first
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["LatentFrame", "LiveMapData", "LiveLatentMap", "pca_2d", "subset_images", "why_no_images"]


@dataclass(frozen=True)
class LatentFrame:
    """One capture: xy float32 (n, 2) for the subset, at `epoch` (fractional within an epoch) and `step`."""

    epoch: float
    step: int
    xy: np.ndarray                        # (n, 2) float32; never modified after capture
    explained: tuple[float, float] | None  # PCA: fraction of variance of each axis; None for a 2-d latent
    seconds: float                         # what this capture cost (encode + projection), s


@dataclass(frozen=True)
class LiveMapData:
    """What a page needs to draw the frames: the subset's colours and the frames themselves."""

    index: np.ndarray                     # (n,) int64 positions of the subset in the split `split`
    labels: np.ndarray                    # (n,) int64
    class_names: tuple[str, ...]
    factors: np.ndarray | None            # (n, F) float32 or None
    factor_names: tuple[str, ...]
    projection: str                       # "latent" (2-d model) or "PCA"
    frames: tuple[LatentFrame, ...]
    overhead_s: float                     # seconds spent capturing, in all
    skipped: int                          # captures skipped to keep the overhead under max_overhead
    split: str = "test"                   # the split of the run's dataset `index` points into ("test" or "train")


def pca_2d(mu: np.ndarray, previous: np.ndarray | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """The first two principal components of mu (n, D): (xy (n, 2) float32, explained variance fractions).

    Each axis's sign is flipped when that makes it correlate positively with `previous` (n, 2).
    Computed as the eigenvectors of the (D, D) covariance in torch (float64), in the training thread's
    torch threads: numpy's SVD of the (n, D) matrix took 2-300 ms on a loaded 2-core machine
    (OpenBLAS threads contending), this takes under 1 ms."""
    x = torch.from_numpy(np.asarray(mu, dtype=np.float64))
    centred = x - x.mean(0, keepdim=True)
    evals, evecs = torch.linalg.eigh(centred.T @ centred)          # ascending
    top = evecs[:, [-1, -2]] if evecs.shape[1] > 1 else torch.cat([evecs, torch.zeros_like(evecs)], 1)
    xy = (centred @ top).numpy()
    lam = evals.clamp(min=0).numpy()
    total = float(lam.sum()) or 1.0
    explained = (float(lam[-1] / total), float(lam[-2] / total) if len(lam) > 1 else 0.0)
    if previous is not None and previous.shape == xy.shape:
        for k in range(2):
            if float(xy[:, k] @ previous[:, k]) < 0:
                xy[:, k] = -xy[:, k]
    return xy.astype(np.float32), explained


class LiveLatentMap:
    """Frames of the latent means of a fixed subset, captured from a training thread (thread-safe)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, index: np.ndarray | None = None,
                 class_names=(), factors: torch.Tensor | None = None, factor_names=(), split: str = "test",
                 interval_s: float = 3.0, max_overhead: float = 0.05, batch_size: int = 1000):
        """images uint8 (n, C, H, W) (the subset), labels int64 (n,), factors float32 (n, F) or None;
        index (n,): the subset's positions in the dataset's split named `split`."""
        if images.ndim != 4 or images.dtype != torch.uint8:
            raise ValueError(f"images must be uint8 (n, C, H, W), got {images.dtype} {tuple(images.shape)}")
        self.images = images
        self.labels = labels.cpu().numpy().astype(np.int64)
        self.index = np.arange(len(images)) if index is None else np.asarray(index, dtype=np.int64)
        self.class_names = tuple(str(c) for c in class_names)
        self.factors = None if factors is None else factors.cpu().numpy().astype(np.float32)
        self.factor_names = tuple(str(f) for f in factor_names)
        self.split = str(split)
        self.interval_s, self.max_overhead, self.batch_size = float(interval_s), float(max_overhead), int(batch_size)
        self._lock = threading.Lock()
        self._frames: list[LatentFrame] = []
        self._projection = "latent"
        self._overhead = 0.0
        self._skipped = 0
        self._last_at: float | None = None     # perf_counter of the last capture's end
        self._since_last = 0.0                 # training seconds since then (wall time, for the budget)
        self._device_images: tuple[torch.device, torch.Tensor] | None = None

    @classmethod
    def from_dataset(cls, dataset, n_max: int = 2000, seed: int = 0, **kw) -> "LiveLatentMap":
        """A fixed, seeded subset of at most n_max test images (training images when there is no test split)."""
        name = "test" if len(dataset.test) else "train"
        split = getattr(dataset, name)
        n = len(split)
        pick = np.sort(np.random.default_rng(seed).choice(n, size=min(n_max, n), replace=False))
        idx = torch.from_numpy(pick)
        return cls(split.images[idx], split.labels[idx], index=pick, class_names=dataset.class_names,
                   factors=None if split.factors is None else split.factors[idx], split=name,
                   factor_names=getattr(dataset, "factor_names", ()) or (), **kw)

    # ---- capturing -------------------------------------------------------------------------------
    def maybe_capture(self, model, epoch: float, step: int, *, epoch_end: bool = False, force: bool = False) -> bool:
        """Capture a frame if one is due: at an epoch end, or `interval_s` after the last one, and only
        while the captures so far cost at most `max_overhead` of the time since the first. True if captured."""
        now = time.perf_counter()
        if self._last_at is None:
            due = True
        else:
            gap = now - self._last_at
            last_cost = self._frames[-1].seconds if self._frames else 0.0
            due = epoch_end or gap >= self.interval_s
            # keep captures <= max_overhead of the wall time: wait at least cost * (1 - o) / o after one
            if due and not force and gap < last_cost * (1 - self.max_overhead) / self.max_overhead:
                self._skipped += 1
                return False
        if not (due or force):
            return False
        self.capture(model, epoch, step)
        return True

    @torch.inference_mode()
    def capture(self, model, epoch: float, step: int) -> LatentFrame:
        """Encode the subset with `model` (its current weights, eval mode, then restored) and add a frame."""
        t0 = time.perf_counter()
        device = next(model.parameters()).device
        if self._device_images is None or self._device_images[0] != device:
            self._device_images = (device, self.images.to(device))
        images = self._device_images[1]
        was_training = model.training
        model.eval()
        try:
            mus = [model.encode(images[i:i + self.batch_size].float().div_(255.0))[0]
                   for i in range(0, len(images), self.batch_size)]
        finally:
            model.train(was_training)
        mu = torch.cat(mus).float().cpu().numpy()
        if mu.shape[1] == 2:
            xy, explained, projection = mu.astype(np.float32), None, "latent"
        else:
            previous = self._frames[-1].xy if self._frames else None
            xy, explained = pca_2d(mu, previous)
            projection = "PCA"
        seconds = time.perf_counter() - t0
        frame = LatentFrame(epoch=float(epoch), step=int(step), xy=xy, explained=explained, seconds=seconds)
        with self._lock:
            self._frames.append(frame)
            self._projection = projection
            self._overhead += seconds
        self._last_at = time.perf_counter()
        return frame

    # ---- reading ---------------------------------------------------------------------------------
    def frames(self) -> list[LatentFrame]:
        with self._lock:
            return list(self._frames)

    def data(self) -> LiveMapData:
        """An immutable view for a page (frames are shared, never modified)."""
        with self._lock:
            frames = tuple(self._frames)
            projection, overhead, skipped = self._projection, self._overhead, self._skipped
        return LiveMapData(index=self.index, labels=self.labels, class_names=self.class_names,
                           factors=self.factors, factor_names=self.factor_names, projection=projection,
                           frames=frames, overhead_s=overhead, skipped=skipped, split=self.split)


def why_no_images(data: LiveMapData, dataset) -> str | None:
    """Why the images of the live map's points cannot be taken from `dataset` (None: they can).

    `dataset` must be the one the run trains on: its split `data.split` must hold every position of
    `data.index`, with the labels the run recorded there (a cheap check that it is the run's, not
    another data set of the same size the sidebar shows)."""
    if dataset is None:
        return "this server does not hold the run's data"
    split = getattr(dataset, data.split, None)
    if split is None or not len(data.index):
        return f"the run's data have no {data.split} split"
    if int(np.max(data.index)) >= len(split):
        return f"the data held are not the run's (its {data.split} split is smaller)"
    labels = np.asarray(split.labels[torch.from_numpy(np.asarray(data.index, np.int64))]).astype(np.int64)
    if not np.array_equal(labels, np.asarray(data.labels, np.int64)):
        return "the data held are not the run's (their labels differ)"
    return None


def subset_images(data: LiveMapData, dataset, positions) -> np.ndarray:
    """uint8 (k, C, H, W): the images of the live map's points at `positions` (0 .. n-1, into data.index),
    taken from `dataset`, the run's (see why_no_images). Raises IndexError on a position outside the subset."""
    pos = np.asarray(positions, np.int64).reshape(-1)
    if len(pos) and (pos.min() < 0 or pos.max() >= len(data.index)):
        raise IndexError(f"positions must be in [0, {len(data.index)}), got {pos.min()} .. {pos.max()}")
    images = getattr(dataset, data.split).images[torch.from_numpy(np.asarray(data.index, np.int64)[pos])]
    return images.numpy() if hasattr(images, "numpy") else np.asarray(images)


def fixed_axes(frames, quantile: float = 0.005,
               margin: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis ranges that hold (nearly) every point of every frame, so a replay's axes stay put:
    the 0.5% and 99.5% quantiles over all frames, widened by 5%. Returns ((x0, x1), (y0, y1))."""
    if not frames:
        return (-3.0, 3.0), (-3.0, 3.0)
    xy = np.concatenate([f.xy for f in frames])
    lo, hi = np.quantile(xy, quantile, axis=0), np.quantile(xy, 1 - quantile, axis=0)
    pad = (hi - lo) * margin + 1e-6
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]), float(hi[1] + pad[1]))
