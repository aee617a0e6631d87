"""The gallery's limits, each an environment variable read when asked (so a running server and tests can change it).

| variable | default | what it bounds |
| --- | --- | --- |
| VAE_GALLERY_DIR | ~/.cache/vae-explorer/gallery | where the database and the weights live |
| VAE_GALLERY_MAX_PER_OWNER | 20 | entries one owner (one browser's secret cookie) may have |
| VAE_GALLERY_MAX_TOTAL_MB | 2048 | megabytes (2**20 bytes) of checkpoint files in the whole gallery |
| VAE_GALLERY_MAX_MODEL_MB | 64 | megabytes of one published checkpoint |
"""

from __future__ import annotations

import os

DEFAULTS: dict[str, float] = {
    "VAE_GALLERY_MAX_PER_OWNER": 20,
    "VAE_GALLERY_MAX_TOTAL_MB": 2048,
    "VAE_GALLERY_MAX_MODEL_MB": 64,
}


def limit(name: str) -> float:
    """The value of limit `name` from the environment, or its default (also for a bad or negative value)."""
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else float(DEFAULTS[name])
    except ValueError:
        return float(DEFAULTS[name])
    return value if value >= 0 else float(DEFAULTS[name])


def limit_count(name: str) -> int:
    return int(limit(name))


def limit_bytes(name: str) -> int:
    """A limit given in MB, in bytes."""
    return int(limit(name) * 2**20)
