"""Where the bundled checkpoints live, and the one a first visit opens (torch-free: read on a fresh
server's first page before torch is imported, vae.ui.decode.first_picture)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ASSETS_DIR = Path(os.environ.get("VAE_ASSETS_DIR", REPO / "assets"))   # checkpoint folders, by name
DEFAULT_BUNDLED = "mnist-2d"                                           # the model a first visit opens
