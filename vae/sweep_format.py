"""What a sweep folder holds, for whoever reads one (vae.train.sweep writes it; vae.analysis.compare
reads it): the file of its plan, the settings a sweep may vary, its run folders' names.

    runs/shapes-beta/sweep.json      the plan: setting, values, runs, the shared recipe and model
    runs/shapes-beta/beta-1/         one run folder per value (run_name)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["SWEEP_SETTINGS", "SWEEP_FILE", "SweepError", "run_name", "load_sweep"]

SWEEP_SETTINGS = ("beta", "latent_dim", "objective")   # what a sweep may vary
SWEEP_FILE = "sweep.json"


class SweepError(ValueError):
    """A sweep that cannot run as asked (bad values, a folder that holds another sweep)."""


def run_name(setting: str, value) -> str:
    """Folder name of one run: "beta-4", "beta-0.5", "latent_dim-16", "objective-tcvae"."""
    return f"{setting}-{value:g}" if isinstance(value, float) else f"{setting}-{value}"


def load_sweep(folder: str | Path) -> dict[str, Any]:
    """The recorded plan of a sweep folder (sweep.json) as a dict; SweepError when there is none."""
    path = Path(folder) / SWEEP_FILE
    if not path.is_file():
        raise SweepError(f"{folder} holds no {SWEEP_FILE}: not a sweep folder")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SweepError(f"{path} is not readable JSON: {e}") from None
    if not isinstance(data, dict) or data.get("setting") not in SWEEP_SETTINGS or not isinstance(
            data.get("values"), list):
        raise SweepError(f"{path} is not a sweep plan (needs \"setting\" in {SWEEP_SETTINGS} and \"values\")")
    return data
