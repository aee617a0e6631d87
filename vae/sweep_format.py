"""What a sweep folder holds, for whoever reads one (vae.train.sweep writes it; vae.analysis.compare
reads it): the file of its plan, the settings a sweep may vary, its run folders' names.

    runs/shapes-beta/sweep.json      the plan: setting, values, runs, the shared recipe and model
    runs/shapes-beta/beta-1/         one run folder per value (run_name)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["SWEEP_SETTINGS", "SWEEP_FILE", "OBJECTIVE_OPTIONS", "SweepError", "run_name", "load_sweep",
           "parse_objective_value"]

SWEEP_SETTINGS = ("beta", "latent_dim", "objective")   # what a sweep may vary
SWEEP_FILE = "sweep.json"
OBJECTIVE_OPTIONS = ("beta", "gamma", "k", "disc_lr")  # what a swept objective may set for itself ("tcvae:beta=6")


class SweepError(ValueError):
    """A sweep that cannot run as asked (bad values, a folder that holds another sweep)."""


def run_name(setting: str, value) -> str:
    """Folder name of one run: "beta-4", "beta-0.5", "latent_dim-16", "objective-tcvae",
    "objective-factorvae-gamma-20" (for "factorvae:gamma=20")."""
    if isinstance(value, float):
        return f"{setting}-{value:g}"
    return f"{setting}-{value}".replace(":", "-").replace("=", "-").replace(",", "-")


def parse_objective_value(value: str) -> tuple[str, dict[str, float | int]]:
    """A swept objective: "tcvae" -> ("tcvae", {}); "tcvae:beta=6" -> ("tcvae", {"beta": 6.0});
    "factorvae:gamma=20,disc_lr=1e-3" -> ("factorvae", {"gamma": 20.0, "disc_lr": 0.001}).

    The options (OBJECTIVE_OPTIONS) override the shared recipe for that run alone, so one sweep compares
    objectives each at its own weight: beta-VAE's beta = 8 beside FactorVAE's KL weight of 1. SweepError
    on an unknown option or a value that is not a number (the objective's name is checked by the plan)."""
    name, _, rest = str(value).partition(":")
    options: dict[str, float | int] = {}
    for part in rest.split(",") if rest else []:
        key, eq, number = part.partition("=")
        if not eq or key not in OBJECTIVE_OPTIONS:
            raise SweepError(f"objective {value!r}: write NAME:OPTION=VALUE[,OPTION=VALUE] with OPTION one of "
                             f"{', '.join(OBJECTIVE_OPTIONS)}, e.g. tcvae:beta=6")
        try:
            options[key] = int(number) if key == "k" else float(number)
        except ValueError:
            raise SweepError(f"objective {value!r}: {key} must be a number, got {number!r}") from None
    return name, options


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
