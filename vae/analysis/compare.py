"""Models side by side: one summary per model (ELBO terms, IWAE, active units, factor metrics), and a
sweep's summaries read back from disk.

    summary = summarize_model(model, dataset, iwae_samples=50)     # JSON-ready, as `evaluate --json`
    sweep = load_sweep_summary("assets/sweeps/shapes-beta")        # SweepSummary

A sweep folder (vae.train.sweep) holds sweep.json and one subfolder per model; a bundled sweep summary
holds sweep.json and one `<run>.json` per model instead: the output of
`python -m vae evaluate RUN --factors --iwae-samples K --json`, so that it can be shown without the
checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vae.sweep_format import SweepError, load_sweep

SUMMARY_TERMS = ("elbo", "recon", "kl", "iwae", "active_units")


def summarize_model(model, dataset, *, iwae_samples: int = 50, factors: bool = True, seed: int = 0,
                    binarize: str = "none", factor_options: dict | None = None,
                    factor_metrics: dict | None = None,
                    progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """ELBO terms (log-densities: elbo = recon - kl, nats per image), IWAE with `iwae_samples`, active units
    and KL per dimension on the test split; the factor metrics too when `factors` and the data carry them.
    `factor_metrics`: evaluate_factors' result for this model and data with this `seed` and `factor_options`,
    already computed (the Factors page's): used as it is instead of computing it again.
    progress(fraction 0..1, what)."""
    from vae.analysis.factors import as_torch_free, evaluate_factors, has_factors
    from vae.analysis.likelihood import evaluate_model

    say = progress or (lambda f, what: None)
    with_factors = factors and has_factors(dataset)
    share = 0.4 if with_factors else 1.0
    say(0.0, "ELBO and IWAE on the test split")
    result = evaluate_model(model, dataset.test.images, iwae_samples=iwae_samples, binarize=binarize, seed=seed,
                            progress=lambda done, total: say(share * done / max(total, 1),
                                                             f"ELBO / IWAE: {done} of {total} test images"))
    result = {"dataset": dataset.name, "split": "test", **result}
    if with_factors and factor_metrics is not None:
        result.update(factor_metrics)
    elif with_factors:
        result.update(evaluate_factors(model, dataset, seed=seed, **(factor_options or {}),
                                       progress=lambda f, what: say(share + (1 - share) * f, what)))
    say(1.0, "done")
    return as_torch_free(result)


@dataclass
class SweepSummary:
    """A sweep's plan and each model's summary (None where a model has none yet)."""

    folder: Path
    setting: str                                  # "beta", "latent_dim" or "objective"
    values: list                                  # the swept values, in order
    runs: list[str]                               # run names ("beta-4"), aligned with values
    summaries: list[dict[str, Any] | None]        # evaluate --factors --json output per run, or None
    checkpoints: list[Path | None] = field(default_factory=list)   # run folders that hold a checkpoint
    plan: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return {"beta": "beta", "latent_dim": "latent dimensions", "objective": "objective"}[self.setting]

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per model with a summary: the setting's value and every scalar figure."""
        out = []
        for value, run, s in zip(self.values, self.runs, self.summaries):
            if s is None:
                continue
            row = {self.setting: value, "run": run}
            for k, v in s.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) or v is None and k in SUMMARY_TERMS:
                    row[k] = v
            out.append(row)
        return out


def load_sweep_summary(folder: str | Path) -> SweepSummary:
    """Read a sweep folder or a bundled sweep summary (see the module docstring). Raises SweepError."""
    folder = Path(folder)
    plan = load_sweep(folder)
    values = list(plan["values"])
    runs = list(plan.get("runs") or [])
    if len(runs) != len(values):
        from vae.sweep_format import run_name
        runs = [run_name(plan["setting"], v) for v in values]
    summaries: list[dict[str, Any] | None] = []
    checkpoints: list[Path | None] = []
    for run in runs:
        path = folder / f"{run}.json"
        summary = None
        if path.is_file():
            try:
                summary = json.loads(path.read_text())
            except (OSError, ValueError) as e:
                raise SweepError(f"{path} is not readable JSON: {e}") from None
            if not isinstance(summary, dict):
                raise SweepError(f"{path} holds no JSON object")
        summaries.append(summary)
        ckpt = folder / run
        checkpoints.append(ckpt if (ckpt / "config.json").is_file() else None)
    return SweepSummary(folder, plan["setting"], values, runs, summaries, checkpoints, plan)


def find_sweeps(*roots: str | Path) -> dict[str, Path]:
    """Sweep folders (holding a sweep.json) directly under each root, by "root-name/folder-name"."""
    found: dict[str, Path] = {}
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for p in sorted(root.iterdir()):
            if (p / "sweep.json").is_file():
                found[f"{root.name}/{p.name}"] = p
    return found
