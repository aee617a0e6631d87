"""The process-wide registry of training jobs, keyed by browser id.

A job lives in an `st.cache_resource` dict, not in session state, so a reload or a page switch
re-attaches to it instead of killing or duplicating it, and two browsers (two ids) train
independently. The training thread never calls Streamlit; pages read `job.snapshot()`.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from vae.config import ModelConfig, TrainConfig

RUNS_DIR = Path(tempfile.gettempdir()) / "vae-explorer-runs"


@dataclass
class _Registry:
    jobs: dict[str, object] = field(default_factory=dict)     # browser id -> TrainingJob (the latest)
    runs: dict[str, int] = field(default_factory=dict)        # browser id -> how many jobs it started
    sources: dict[str, str] = field(default_factory=dict)     # browser id -> the sidebar's model source
    lock: threading.Lock = field(default_factory=threading.Lock)


@st.cache_resource
def _registry() -> _Registry:
    return _Registry()


def job_for(bid: str):
    """This browser's latest TrainingJob, or None."""
    return _registry().jobs.get(bid)


def start_job(bid: str, model_config: ModelConfig, train_config: TrainConfig, dataset, device: str | None = None):
    """Start a new job for `bid` (refused while its previous job runs). Returns the job.

    Raises RuntimeError when a job of this browser is still running, ValueError/ConfigError on
    a config that does not fit the data.
    """
    from vae.train import TrainingJob

    reg = _registry()
    with reg.lock:
        old = reg.jobs.get(bid)
        if old is not None and old.is_running:
            raise RuntimeError("a training job of this browser is still running; stop it first")
        n = reg.runs.get(bid, 0) + 1
        out_dir = RUNS_DIR / bid / f"run-{n}"
        job = TrainingJob(model_config, train_config, dataset, out_dir=out_dir, device=device,
                          overwrite=True)   # a run-N left in our scratch folder by an earlier server process
        job.start()
        reg.jobs[bid] = job
        reg.runs[bid] = n
    return job


def remember_source(bid: str, source: str) -> None:
    """Keep the sidebar's model source of this browser beyond its session, so a reload keeps the trained model."""
    _registry().sources[bid] = source


def remembered_source(bid: str) -> str | None:
    return _registry().sources.get(bid)


ACTIVE_STATES = ("pending", "running")


def describe_progress(snap) -> str:
    """One line for the progress bar: state, epoch, step, ETA."""
    eta = f" · about {_duration(snap.eta_s)} left" if snap.eta_s is not None and snap.state == "running" else ""
    return (f"{snap.state} · epoch {snap.epoch}/{snap.epochs} · step {snap.step:,}/{snap.total_steps:,}"
            f" · {snap.progress:.0%}{eta}")


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 90:
        return f"{seconds} s"
    m, s = divmod(seconds, 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def explore_trained_model() -> None:
    """Button callback: make the sidebar show this browser's trained model (on every page)."""
    st.session_state["sb_source"] = "trained"


def zip_of_checkpoint(path: str) -> bytes:
    from vae.checkpoint import checkpoint_zip_bytes

    return checkpoint_zip_bytes(path)


def save_trained_model(job, dest: str, overwrite: bool = False) -> Path:
    """Write the job's latest model as a checkpoint folder at `dest`, atomically.

    Refuses (CheckpointError) a destination that is not new, empty or a checkpoint; raises
    CheckpointExistsError for a checkpoint unless `overwrite` (ask the user, then call again).
    `vae.checkpoint.destination_status(dest)` tells beforehand: "absent", "checkpoint" or "other".
    """
    from vae.checkpoint import save_model

    model = job.latest_model()
    if model is None:
        raise RuntimeError("no epoch has finished yet")
    info = model.checkpoint_info
    return save_model(model, Path(dest).expanduser(), train_config=TrainConfig.from_dict(info["train"]),
                      metrics=info.get("metrics"), state=info.get("state"), dataset=info.get("dataset"),
                      overwrite=overwrite)
