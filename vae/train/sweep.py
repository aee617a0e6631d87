"""A sweep: a family of models that differ in one setting, each in its own run folder.

    plan = plan_sweep("beta", [1, 4, 16], model_config, train_config, "runs/shapes-beta")
    run_sweep(plan, progress=lambda done, total, run: ...)

Layout of a sweep folder:

    runs/shapes-beta/sweep.json      the plan: setting, values, the shared recipe and model
    runs/shapes-beta/beta-1/         an ordinary checkpoint folder (config.json, model.safetensors, ...)
    runs/shapes-beta/beta-4/
    ...

Every model shares the seed (so the same initial weights where the shapes agree, the same batch
order and noise) and the data. The sweep is resumable: run it again with the same plan and a
finished model is skipped, a half-trained one resumes from its last checkpoint (per epoch, with
optimizer state), and the rest start. A plan that differs from the recorded sweep.json is refused,
so two recipes never mix in one folder.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vae.safeio.durable import atomic_write_bytes
from vae.config import ConfigError, ModelConfig, TrainConfig
from vae.objective_specs import OBJECTIVE_SPECS
from vae.sweep_format import SWEEP_FILE, SWEEP_SETTINGS, SweepError, load_sweep, parse_objective_value, run_name

@dataclass(frozen=True)
class SweepRun:
    """One member of a sweep: the value of the swept setting and its run folder."""

    value: float | int | str
    folder: Path
    model_config: ModelConfig
    train_config: TrainConfig


@dataclass(frozen=True)
class SweepPlan:
    setting: str                   # "beta", "latent_dim" or "objective"
    values: tuple                  # the swept values, in order
    model_config: ModelConfig      # the shared model (latent_dim replaced per run when swept)
    train_config: TrainConfig      # the shared recipe (beta or objective replaced per run when swept)
    folder: Path

    @property
    def runs(self) -> list[SweepRun]:
        out = []
        for v in self.values:
            mc, tc = self.model_config, self.train_config
            if self.setting == "beta":
                tc = dataclasses.replace(tc, beta=float(v))
            elif self.setting == "objective":       # importance samples only where the objective takes them
                name, options = parse_objective_value(v)
                k = tc.k if "k" in OBJECTIVE_SPECS[name].options else 1
                tc = dataclasses.replace(tc, objective=name, **{"k": k, **options})
            else:
                mc = dataclasses.replace(mc, latent_dim=int(v))
            out.append(SweepRun(v, self.folder / run_name(self.setting, v), mc, tc))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": 1, "setting": self.setting, "values": list(self.values),
                "runs": [run_name(self.setting, v) for v in self.values],
                "model": self.model_config.to_dict(), "train": self.train_config.to_dict()}


def plan_sweep(setting: str, values, model_config: ModelConfig, train_config: TrainConfig,
               folder: str | Path) -> SweepPlan:
    """Check the values and build the plan (nothing is written)."""
    if setting not in SWEEP_SETTINGS:
        raise SweepError(f"a sweep varies one of {SWEEP_SETTINGS}, not {setting!r}")
    values = list(values)
    if len(values) < 2:
        raise SweepError(f"a sweep needs at least 2 values of {setting}, got {values}")
    if setting == "beta":
        values = [float(v) for v in values]
        if any(not (math.isfinite(v) and v >= 0) for v in values):
            raise SweepError(f"beta values must be finite and >= 0, got {values}")
    elif setting == "objective":
        bad = [v for v in values if parse_objective_value(v)[0] not in OBJECTIVE_SPECS]
        if bad:
            raise SweepError(f"objectives must be among {tuple(OBJECTIVE_SPECS)}, got {bad}")
    else:
        if any(not float(v).is_integer() for v in values):
            raise SweepError(f"latent_dim values must be integers, got {values}")
        values = [int(v) for v in values]
    if len(set(values)) != len(values):
        raise SweepError(f"the {setting} values repeat: {values}")
    plan = SweepPlan(setting, tuple(values), model_config, train_config, Path(folder))
    try:
        runs = plan.runs         # validates every member's recipe (e.g. factorvae's batch size)
    except ConfigError as e:
        raise SweepError(str(e)) from None
    for run in runs:             # validates every member's config (e.g. latent_dim range)
        try:
            ModelConfig.from_dict(run.model_config.to_dict())
        except ConfigError as e:
            raise SweepError(f"{run_name(setting, run.value)}: {e}") from None
    return plan


def _run_state(folder: Path) -> tuple[str, int]:
    """("absent" | "finished" | "partial", epochs done) of one run folder."""
    cfg = folder / "config.json"
    if not cfg.is_file():
        return "absent", 0
    try:
        state = json.loads(cfg.read_text()).get("state") or {}
    except (OSError, ValueError):
        raise SweepError(f"{cfg} is not readable JSON; delete {folder} to train that model again") from None
    return ("finished" if state.get("status") == "finished" else "partial"), int(state.get("epoch", 0))


def _saved_step(folder: Path) -> int:
    try:
        return int((json.loads((folder / "config.json").read_text()).get("state") or {}).get("step", 0))
    except (OSError, ValueError):
        return 0


def sweep_status(plan: SweepPlan) -> list[tuple[SweepRun, str, int]]:
    """Each run with its state ("absent", "partial", "finished") and the epochs it has done."""
    return [(run, *_run_state(run.folder)) for run in plan.runs]


def _with_defaults(recorded: dict[str, Any]) -> dict[str, Any]:
    """A recorded plan with its recipe's fields that older versions did not write (FactorVAE's gamma, ...)
    filled in with their defaults, so that the same sweep run again by a newer version still matches."""
    train = recorded.get("train")
    if isinstance(train, dict):
        try:
            full = json.loads(json.dumps(TrainConfig.from_dict(train).to_dict()))
        except ConfigError:
            return recorded      # compared as recorded: it differs, and the message shows it
        recorded = {**recorded, "train": {**full, **train}}
    return recorded


def platform_record() -> dict[str, Any]:
    """What fixes a run's last bits besides its recipe: torch's version, the CPU kernels ATen dispatches to
    ("AVX512", "AVX2", ...), its thread count, and the CPU itself (`cpu_model()`): the libraries under torch's
    CPU matrix products (MKL, oneDNN) choose their kernels by the processor, not by ATen's capability. An AMD
    EPYC reading AVX512 trains the shapes sweep's beta = 1 point's first epoch to a loss of 200.76158089758158
    where the bundle, made on another machine with the same torch, AVX512 and 1 thread, says
    200.7615716050744; ATEN_CPU_CAPABILITY=avx2 leaves that figure as it is there, MKL_CBWR=COMPATIBLE moves
    it. Training is chaotic: the same recipe on another of these ends as a different model of the same quality
    (the 40th epoch's test ELBO a few hundredths of a nat away), and a single seed's factor metrics move with
    it. A rerun is bit for bit only where all four agree."""
    import torch

    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads(), "cpu": cpu_model()}


def cpu_model(cpuinfo: str | None = None) -> str:
    """The processor as /proc/cpuinfo names it: "vendor_id family F model M (model name)", e.g.
    "AuthenticAMD family 25 model 17 (AMD EPYC)"; platform.processor() or the machine type where there is
    no /proc/cpuinfo (macOS, Windows). `cpuinfo`: that file's text (tests)."""
    import platform

    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break                                   # the first processor's block is enough
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    if "vendor_id" in fields:
        return (f"{fields['vendor_id']} family {fields.get('cpu family', '?')} model {fields.get('model', '?')} "
                f"({fields.get('model name', '?')})")
    return platform.processor() or platform.machine() or "unknown"


def _record_plan(plan: SweepPlan) -> None:
    """Write sweep.json (the plan and the platform_record it was trained on), or check that the one there is
    this plan (the platform is not compared: a sweep may resume elsewhere)."""
    path = plan.folder / SWEEP_FILE
    wanted = plan.to_dict()
    if path.exists():
        recorded = _with_defaults(load_sweep(plan.folder))
        for key in ("setting", "values", "model", "train"):
            if recorded.get(key) != json.loads(json.dumps(wanted[key])):
                raise SweepError(
                    f"{plan.folder} holds another sweep ({key} differs: recorded {recorded.get(key)!r}, "
                    f"asked {wanted[key]!r}); choose another --out or delete that folder")
        return
    if plan.folder.exists() and not plan.folder.is_dir():
        raise SweepError(f"{plan.folder} exists and is not a folder")
    if plan.folder.is_dir() and any(plan.folder.iterdir()):
        raise SweepError(f"{plan.folder} already holds files but no {SWEEP_FILE}; choose another --out")
    plan.folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps({**wanted, "made_with": platform_record()}, indent=2) + "\n").encode())


def run_sweep(plan: SweepPlan, *, progress: Callable[[int, int, str], None] | None = None,
              on_run: Callable[[SweepRun, str], None] | None = None, device=None, dataset=None,
              stop=None) -> list[tuple[SweepRun, str]]:
    """Train every model of the plan that is not finished; returns [(run, "skipped" | "resumed" | "trained")].

    progress(steps_done, steps_total, run_name) after every optimiser step, counted over the whole
    sweep (finished models count as done). on_run(run, action) before each model. `stop` (a
    threading.Event or None) is checked between steps: set, the current model saves and the sweep
    returns. The data set is loaded once (all members share it).
    """
    from vae.train.inputs import load_training_data, make_model
    from vae.train.trainer import Trainer

    _record_plan(plan)
    status = sweep_status(plan)
    if dataset is None:
        dataset = load_training_data(plan.train_config)
    steps_per_epoch = math.ceil(len(dataset.train) / plan.train_config.batch_size)
    total = len(plan.runs) * plan.train_config.epochs * steps_per_epoch
    steps = [plan.train_config.epochs * steps_per_epoch if state == "finished" else _saved_step(run.folder)
             for run, state, _ in status]            # optimiser steps each model has taken
    if progress:
        progress(sum(steps), total, "")
    actions = []
    for k, (run, state, _) in enumerate(status):
        name = run.folder.name
        if state == "finished":
            actions.append((run, "skipped"))
            if on_run:
                on_run(run, "skipped")
            continue
        if state == "partial":
            trainer = Trainer.resume(run.folder, dataset=dataset, device=device)
            action = "resumed"
        else:
            model = make_model(run.model_config, seed=run.train_config.seed)
            trainer = Trainer(model, dataset, run.train_config, out_dir=run.folder, device=device)
            action = "trained"
        steps[k] = trainer.step
        if on_run:
            on_run(run, action)

        def on_step(t, info, k=k, name=name):
            steps[k] = info["step"]
            if progress:
                progress(sum(steps), total, name)
            if stop is not None and stop.is_set():
                t.stop()

        trainer.add_callback("on_step_end", on_step)
        trainer.run()
        actions.append((run, action))
        if trainer.status == "stopped":
            break
    return actions
