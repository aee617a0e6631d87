"""Hosting policy: the hosted switch, the limits of a shared server, and which server paths a browser may name.

    VAE_EXPLORER_HOSTED=1 streamlit run app.py      # a shared server: no server paths, no server-side save

Every limit is an environment variable read when asked (so tests and a running server can change it):

| variable | default | what it bounds |
| --- | --- | --- |
| VAE_EXPLORER_HOSTED | 0 | 1: no server-path inputs, no "Save to folder"; uploads and downloads remain |
| VAE_EXPLORER_ALLOWED_DIRS | (none) | extra folders (os.pathsep-separated) a local user may name |
| VAE_MAX_TRAINING_JOBS | 2 | trainings running at once in this process; more wait in a queue |
| VAE_MAX_TRAINING_IMAGES | 3000000 | epochs x training images of one job (50 MNIST epochs) |
| VAE_MAX_PROJECTIONS | 2 | background projections (t-SNE) running at once; more wait |
| VAE_PROJECTION_THREADS | 0 | threads of one projection (0: 1 when hosted, every core locally) |
| VAE_MAP_MAX_POINTS | 0 | points of one Latent map (0: 200,000 when hosted, no cap locally); more are sampled |
| VAE_MODEL_CACHE_MB | 512 | bytes of models (and their files) cached per process (LRU) |
| VAE_MAX_POSTERIOR_WORK | 2.5e8 | grid points x decoded values of one Posterior grid |
| VAE_TRAINING_NICE | 10 | niceness of training threads, so that pages stay responsive while jobs train |
| VAE_ORPHAN_GRACE_S | 600 | a job whose browser is gone this long is stopped |
| VAE_RUN_FILES_TTL_S | 86400 | a stopped job's files (and old uploads) are removed after this long |

Nothing here imports Streamlit: vae.ui's Streamlit glue and the tests both use it.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
HOSTED_ENV = "VAE_EXPLORER_HOSTED"
ALLOWED_DIRS_ENV = "VAE_EXPLORER_ALLOWED_DIRS"

DEFAULTS: dict[str, float] = {
    "VAE_MAX_TRAINING_JOBS": 2,
    "VAE_MAX_TRAINING_IMAGES": 3_000_000,
    "VAE_MAX_PROJECTIONS": 2,
    "VAE_PROJECTION_THREADS": 0,
    "VAE_MAP_MAX_POINTS": 0,
    "VAE_MODEL_CACHE_MB": 512,
    "VAE_MAX_POSTERIOR_WORK": 2.5e8,
    "VAE_TRAINING_NICE": 10,
    "VAE_ORPHAN_GRACE_S": 600,
    "VAE_RUN_FILES_TTL_S": 86_400,
}


def hosted() -> bool:
    """True on a shared server (VAE_EXPLORER_HOSTED=1/true/yes): no server paths, no server-side save."""
    return os.environ.get(HOSTED_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def limit(name: str) -> float:
    """The configured value of limit `name` (an environment variable of DEFAULTS), or its default."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return float(DEFAULTS[name])
    try:
        value = float(raw)
    except ValueError:
        return float(DEFAULTS[name])
    return value if value >= 0 else float(DEFAULTS[name])


class PathRefused(ValueError):
    """A server path a browser may not name. The message never repeats the path."""


def allowed_roots(extra: tuple[Path, ...] = ()) -> list[Path]:
    """Folders a local user may name: their home, the project, $VAE_DATA_DIR (the operator's own data, allowed
    by definition: the sidebar reads it and the Train page pre-fills it), $VAE_EXPLORER_ALLOWED_DIRS, and `extra`."""
    roots = [Path.home(), REPO, *extra]
    data_root = os.environ.get("VAE_DATA_DIR", "").strip()
    if data_root:
        roots.append(Path(data_root))
    roots += [Path(p) for p in os.environ.get(ALLOWED_DIRS_ENV, "").split(os.pathsep) if p.strip()]
    out = []
    for r in roots:
        try:
            out.append(r.expanduser().resolve())
        except OSError:
            continue
    return out


def check_server_path(raw: str, what: str = "folder", extra_roots: tuple[Path, ...] = ()) -> Path:
    """The resolved path a browser user typed, or PathRefused.

    Hosted: every path is refused (a browser user never reaches the server's files). Local: a path
    that resolves (symlinks followed) outside the user's home, the project and the allowed folders
    is refused. Relative paths are taken from the project folder.
    """
    if hosted():
        raise PathRefused(f"this server is shared: a {what} on the server cannot be named here; "
                          "upload a zip instead")
    text = str(raw).strip()
    if not text or "\x00" in text:
        raise PathRefused(f"no {what} named")
    p = Path(text).expanduser()
    if not p.is_absolute():
        p = REPO / p
    try:
        resolved = p.resolve()
    except (OSError, RuntimeError) as e:
        raise PathRefused(f"this {what} cannot be resolved ({type(e).__name__})") from None
    if not any(resolved == r or resolved.is_relative_to(r) for r in allowed_roots(extra_roots)):
        raise PathRefused(f"that {what} is outside your home folder and the project; name one inside them "
                          f"(or list it in {ALLOWED_DIRS_ENV})")
    return resolved


def posterior_grid_size(image_values: int, wanted: int, smallest: int = 61) -> int | None:
    """Grid points per side for the Posterior page's 2-d grid of a model decoding `image_values`
    (C x H x W) values: `wanted`, fewer when wanted^2 x image_values passes VAE_MAX_POSTERIOR_WORK,
    None when even `smallest` would (the page then shows the IWAE estimate only)."""
    budget = limit("VAE_MAX_POSTERIOR_WORK")
    if wanted * wanted * image_values <= budget:
        return wanted
    g = int((budget / max(image_values, 1)) ** 0.5)
    g -= (g + 1) % 2          # odd, so that z = 0 is a node
    return g if g >= smallest else None


HOSTED_MAP_POINTS = 200_000


def map_max_points() -> int | None:
    """Most points one Latent map may hold: VAE_MAP_MAX_POINTS, else 200,000 hosted and None (no cap) locally."""
    n = int(limit("VAE_MAP_MAX_POINTS"))
    if n > 0:
        return n
    return HOSTED_MAP_POINTS if hosted() else None


def projection_threads() -> int | None:
    """Threads for one background projection: VAE_PROJECTION_THREADS, else 1 hosted and None (all cores) locally."""
    n = int(limit("VAE_PROJECTION_THREADS"))
    if n > 0:
        return n
    return 1 if hosted() else None
