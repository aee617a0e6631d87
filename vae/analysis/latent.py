"""The latent space of a trained VAE: encode a dataset, walk between points, sweep dimensions, sample.

    mu, logvar = encode_dataset(model, ds.test.images)        # (N, C, H, W) uint8 -> (N, D) float32 each
    proj = project_pca(mu)                                     # or project_tsne(mu, progress=...)
    path = slerp(mu[0], mu[1], 10)                             # (10, D)
    frames = decode_numpy(model, path)                         # (10, C, H, W) uint8
    gif = gif_bytes(frames)                                    # animated GIF, bytes

Everything here takes and returns numpy arrays (latents float32, images float32 in [0, 1] or uint8)
so a page can cache and draw them directly; models run on their own device under
`torch.inference_mode()`, in batches. Projections live in vae/projection.py and image export in
vae/imageio.py; both are re-exported here.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from vae.imageio import gif_bytes, image_grid, png_bytes, strip_png, to_uint8
from vae.densities import log_standard_normal
from vae.analysis.projection import Projection, knn_label_accuracy, project_pca, project_tsne

__all__ = ["encode_dataset", "decode_numpy", "decode_images", "lerp", "slerp", "traversal_grid",
           "prior_samples", "manifold_grid", "log_prior_density", "nearest_point",
           "Projection", "project_pca", "project_tsne", "knn_label_accuracy",
           "to_uint8", "image_grid", "png_bytes", "gif_bytes", "strip_png"]


def _model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _latent_dim(model) -> int:
    return int(model.config.latent_dim)


# ---- encoding and decoding ------------------------------------------------------------------------

def encode_dataset(model, images_uint8, *, batch_size: int = 1024,
                   device: torch.device | str | None = None,
                   progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Posterior parameters of every image: (N, C, H, W) uint8 -> (mu, logvar), each float32 (N, D).

    `images_uint8` is a torch tensor or numpy array of uint8 pixels 0..255 (scaled to [0, 1] here);
    a float array already in [0, 1] is accepted as is. Batches of `batch_size` are converted into one
    reused float32 buffer (batch_size, C, H, W) on the model's device (`device`, if given, must be that
    device), encoded under inference mode and written into mu and logvar, allocated once: no float copy
    of the whole set, and no per-batch arrays kept (1,000,000 shapes grew the process by ~3.5 GB through
    malloc fragmentation when every batch's result was kept and concatenated). progress(done, N) is
    called after each batch.
    """
    model_device = _model_device(model)
    want = torch.device(device) if device is not None else model_device
    if want.type != model_device.type or want.index not in (None, model_device.index):
        raise ValueError(f"encode_dataset: the model is on {model_device}, not {want}; "
                         f"move it with model.to({str(want)!r}) first")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    x = images_uint8 if isinstance(images_uint8, torch.Tensor) else torch.from_numpy(np.asarray(images_uint8))
    if x.dim() != 4:
        raise ValueError(f"encode_dataset expects images of shape (N, C, H, W), got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        scale = 1.0 / 255.0
    elif x.is_floating_point():
        scale = 1.0
    else:
        raise ValueError(f"encode_dataset expects uint8 pixels (or floats in [0, 1]), got {x.dtype}")
    n, d = int(x.shape[0]), _latent_dim(model)
    mu_out, logvar_out = np.empty((n, d), np.float32), np.empty((n, d), np.float32)
    if n == 0:
        return mu_out, logvar_out
    buf = torch.empty((min(batch_size, n), *x.shape[1:]), dtype=torch.float32, device=model_device)
    with torch.inference_mode():
        for i in range(0, n, batch_size):
            xb = buf[:min(batch_size, n - i)]
            xb.copy_(x[i:i + batch_size], non_blocking=True)
            if scale != 1.0:
                xb.mul_(scale)
            mu, logvar = model.encode(xb)
            mu_out[i:i + len(xb)] = mu.float().cpu().numpy()        # copied out before buf is reused
            logvar_out[i:i + len(xb)] = logvar.float().cpu().numpy()
            if progress is not None:
                progress(i + len(xb), n)
    return mu_out, logvar_out


def _as_latents(model, z, name: str = "z") -> torch.Tensor:
    """numpy / torch (M, D) or (D,) -> float32 tensor (M, D) on the model's device."""
    t = z.detach() if isinstance(z, torch.Tensor) else torch.from_numpy(np.asarray(z, dtype=np.float32))
    if t.dim() == 1:
        t = t[None]
    d = _latent_dim(model)
    if t.dim() != 2 or t.shape[1] != d:
        raise ValueError(f"{name} must have shape (M, {d}) or ({d},) for this model, got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return t.to(_model_device(model), torch.float32)


def decode_images(model, z, *, batch_size: int = 4096) -> np.ndarray:
    """Mean images of latent points: z (M, D) numpy or torch -> float32 (M, C, H, W) in [0, 1]."""
    t = _as_latents(model, z)
    out = []
    with torch.inference_mode():
        for i in range(0, t.shape[0], batch_size):
            out.append(model.decode(t[i:i + batch_size]).float().cpu())
    if not out:
        return np.zeros((0, *model.config.image_shape), np.float32)
    return torch.cat(out).numpy()


def decode_numpy(model, z, *, batch_size: int = 4096) -> np.ndarray:
    """Mean images of latent points as pixels: z (M, D) -> uint8 (M, C, H, W)."""
    return to_uint8(decode_images(model, z, batch_size=batch_size))


# ---- paths between points -------------------------------------------------------------------------

def _to_numpy_pair(z0, z1):
    like = z0 if isinstance(z0, torch.Tensor) else (z1 if isinstance(z1, torch.Tensor) else None)
    a = z0.detach().cpu().numpy() if isinstance(z0, torch.Tensor) else np.asarray(z0)
    b = z1.detach().cpu().numpy() if isinstance(z1, torch.Tensor) else np.asarray(z1)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"z0 and z1 must be vectors of the same length (D,), got {a.shape} and {b.shape}")
    dtype = np.result_type(a.dtype, b.dtype)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.float32
    return a, b, dtype, like


def _finish(path: np.ndarray, a, b, dtype, like):
    path = path.astype(dtype)
    path[0], path[-1] = a, b  # endpoints exact, whatever the rounding in between
    if like is not None:
        return torch.from_numpy(path).to(device=like.device, dtype=like.dtype if like.is_floating_point() else torch.float32)
    return path


def _check_n(n: int) -> None:
    if int(n) != n or n < 2:
        raise ValueError(f"an interpolation needs n >= 2 points (both endpoints included), got {n!r}")


def lerp(z0, z1, n: int):
    """n points on the straight line from z0 to z1, endpoints included: (D,), (D,) -> (n, D).

    numpy in -> numpy out; a torch tensor in -> torch out (on its device).
    """
    _check_n(n)
    a, b, dtype, like = _to_numpy_pair(z0, z1)
    t = np.linspace(0.0, 1.0, int(n))[:, None]
    path = (1.0 - t) * a.astype(np.float64) + t * b.astype(np.float64)
    return _finish(path, a, b, dtype, like)


def slerp(z0, z1, n: int, *, eps: float = 1e-6):
    """n points of spherical interpolation from z0 to z1, endpoints included: (D,), (D,) -> (n, D).

    z(t) = sin((1 - t) w) / sin w * z0 + sin(t w) / sin w * z1, with w the angle between z0 and z1
    (White 2016, "Sampling generative networks"). For equal norms the path stays on the sphere of
    that radius, where a Gaussian prior puts its mass, instead of cutting through the low-norm middle
    as lerp does. When the vectors are nearly parallel or antiparallel (sin w < eps), or either is
    zero, the angle is undefined and it falls back to lerp.
    """
    _check_n(n)
    a, b, dtype, like = _to_numpy_pair(z0, z1)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    t = np.linspace(0.0, 1.0, int(n))[:, None]
    if na == 0 or nb == 0:
        return lerp(z0, z1, n)
    omega = math.acos(float(np.clip(a64 @ b64 / (na * nb), -1.0, 1.0)))
    s = math.sin(omega)
    if s < eps:
        return lerp(z0, z1, n)
    path = np.sin((1.0 - t) * omega) / s * a64 + np.sin(t * omega) / s * b64
    return _finish(path, a, b, dtype, like)


# ---- sweeps, samples and grids --------------------------------------------------------------------

def traversal_grid(model, z, dims=None, n_steps: int = 7, span: float = 3.0) -> np.ndarray:
    """Latent traversals: images float32 (len(dims), n_steps, C, H, W) in [0, 1].

    Row r sweeps dimension dims[r] through np.linspace(-span, span, n_steps) (absolute values, in
    units of the prior's standard deviation) with the other dimensions held at z (D,).
    dims=None sweeps every dimension.
    """
    d = _latent_dim(model)
    base = _as_latents(model, z).cpu()
    if base.shape[0] != 1:
        raise ValueError(f"traversal_grid takes one latent point z ({d},), got {base.shape[0]} points")
    dims = list(range(d)) if dims is None else [int(i) for i in dims]
    if not dims:
        raise ValueError("traversal_grid: dims is empty")
    bad = [i for i in dims if not 0 <= i < d]
    if bad:
        raise ValueError(f"traversal_grid: dimension(s) {bad} out of range for a {d}-d latent space")
    if n_steps < 1 or not span >= 0:
        raise ValueError(f"traversal_grid needs n_steps >= 1 and span >= 0, got {n_steps}, {span}")
    values = torch.linspace(-span, span, n_steps) if n_steps > 1 else torch.zeros(1)
    zz = base.repeat(len(dims) * n_steps, 1).view(len(dims), n_steps, d)   # (R, S, D)
    for r, i in enumerate(dims):
        zz[r, :, i] = values
    images = decode_images(model, zz.view(-1, d))
    return images.reshape(len(dims), n_steps, *images.shape[1:])


def prior_samples(model, n: int, temperature: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n draws z ~ N(0, temperature^2 I) and their mean images: (z float32 (n, D), images float32 (n, C, H, W)).

    The same seed gives the same z on every device (drawn on the CPU).
    """
    if n < 1:
        raise ValueError(f"prior_samples needs n >= 1, got {n}")
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(int(n), _latent_dim(model), generator=g) * float(temperature)
    return z.numpy(), decode_images(model, z)


def manifold_grid(model, n: int = 15, extent=None) -> tuple[np.ndarray, np.ndarray]:
    """The learned manifold of a 2-d latent space as an n x n grid of decoded images.

    Returns (images float32 (n, n, C, H, W) in [0, 1], z float32 (n, n, 2)).
    extent=None: Kingma & Welling's figure, coordinates Phi^-1((i + 0.5) / n) on each axis, so equal
    prior mass lies between neighbours. extent=(x_min, x_max, y_min, y_max): a linear grid over that
    box (e.g. the range of a latent map, for its background).
    Row 0 is the top of the picture (largest z[1]), column 0 the left (smallest z[0]), so
    image_grid(images) looks like the latent plane drawn with y up.
    """
    if _latent_dim(model) != 2:
        raise ValueError(f"manifold_grid needs a 2-d latent space, this model has {_latent_dim(model)} dims; "
                         "use traversal_grid or a projection instead")
    if n < 1:
        raise ValueError(f"manifold_grid needs n >= 1, got {n}")
    if extent is None:
        q = (torch.arange(n, dtype=torch.float64) + 0.5) / n
        xs = torch.special.ndtri(q)
        ys = xs.clone()
    else:
        if len(extent) != 4:
            raise ValueError(f"extent must be (x_min, x_max, y_min, y_max), got {extent!r}")
        x0, x1, y0, y1 = (float(v) for v in extent)
        if not all(map(math.isfinite, (x0, x1, y0, y1))) or x1 < x0 or y1 < y0:
            raise ValueError(f"extent must be finite with x_min <= x_max and y_min <= y_max, got {extent!r}")
        xs = torch.linspace(x0, x1, n, dtype=torch.float64)
        ys = torch.linspace(y0, y1, n, dtype=torch.float64)
    gy, gx = torch.meshgrid(ys.flip(0), xs, indexing="ij")   # (n, n): row i -> y descending
    z = torch.stack([gx, gy], dim=-1).float()                 # (n, n, 2)
    images = decode_images(model, z.view(-1, 2))
    return images.reshape(n, n, *images.shape[1:]), z.numpy()


# ---- where a point lies -----------------------------------------------------------------------------

def log_prior_density(z):
    """log N(z; 0, I) in nats: (M, D) -> (M,) (or (D,) -> scalar). numpy in -> float64 numpy out,
    torch in -> torch out."""
    if isinstance(z, torch.Tensor):
        return log_standard_normal(z)
    return log_standard_normal(torch.from_numpy(np.asarray(z, dtype=np.float64))).numpy()


def nearest_point(z, mu, *, chunk_elements: int = 1 << 22):
    """Nearest latent mean to each query, by Euclidean distance in latent space.

    z (D,) -> (index int, distance float); z (M, D) -> (indices int64 (M,), distances float64 (M,)).
    mu (N, D): the dataset's latent means. Exact (no approximation), computed in float64 chunks of
    about `chunk_elements` differences; ~1 ms for one query against 10,000 x 20.
    """
    a = z.detach().cpu().numpy() if isinstance(z, torch.Tensor) else np.asarray(z)
    m = mu.detach().cpu().numpy() if isinstance(mu, torch.Tensor) else np.asarray(mu)
    single = a.ndim == 1
    a = np.atleast_2d(a).astype(np.float64)
    m = m.astype(np.float64)
    if m.ndim != 2 or m.shape[0] == 0:
        raise ValueError(f"mu must be a non-empty (N, D) array, got shape {m.shape}")
    if a.ndim != 2 or a.shape[1] != m.shape[1]:
        raise ValueError(f"z must have shape ({m.shape[1]},) or (M, {m.shape[1]}) to match mu, got {a.shape}")
    step = max(1, chunk_elements // max(1, m.size))
    idx = np.empty(len(a), np.int64)
    dist = np.empty(len(a), np.float64)
    for i in range(0, len(a), step):
        sq = ((a[i:i + step, None, :] - m[None, :, :]) ** 2).sum(-1)   # (chunk, N)
        j = sq.argmin(axis=1)
        idx[i:i + step] = j
        dist[i:i + step] = np.sqrt(sq[np.arange(len(j)), j])
    if single:
        return int(idx[0]), float(dist[0])
    return idx, dist
