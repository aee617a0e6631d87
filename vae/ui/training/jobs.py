"""The process-wide registry of training jobs, keyed by browser id.

A job lives in an `st.cache_resource` dict, not in session state, so a reload or a page switch
re-attaches to it instead of killing or duplicating it, and two browsers (two ids) train
independently. The training thread never calls Streamlit; pages read `job.snapshot()`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from vae.config import ModelConfig, TrainConfig

from vae.ui import hosting
from vae.ui.hosting import scratch


@dataclass
class _Registry:
    jobs: dict[str, object] = field(default_factory=dict)     # browser id -> TrainingJob (the latest)
    runs: dict[str, int] = field(default_factory=dict)        # browser id -> how many jobs it started
    sources: dict[str, str] = field(default_factory=dict)     # browser id -> the sidebar's model source
    queue: list = field(default_factory=list)                 # [(browser id, job, start callable)] waiting
    sessions: dict[str, set] = field(default_factory=dict)    # browser id -> Streamlit session ids seen
    orphan_since: dict[str, float] = field(default_factory=dict)   # browser id -> when its last session went
    stop_asked: dict[str, tuple[int, int]] = field(default_factory=dict)  # browser id -> (id(job), step at Stop)
    past: dict[str, list] = field(default_factory=dict)       # browser id -> RunRecords of its replaced runs
    lock: threading.RLock = field(default_factory=threading.RLock)
    janitor: object = None


@st.cache_resource
def _registry() -> _Registry:
    reg = _Registry()
    from vae.ui.hosting.janitor import Janitor

    # the janitor's thread is handed this registry: it never calls the cached function (a call outside a
    # script run logs "missing ScriptRunContext" on every start)
    reg.janitor = Janitor(reg, dispatch_queue=lambda: dispatch_queue(reg), stop_job=lambda bid: stop_job(bid, reg=reg),
                          scratch_dir=scratch.server_dir())
    reg.janitor.start()
    return reg


def job_for(bid: str):
    """This browser's latest TrainingJob, or None."""
    return _registry().jobs.get(bid)


def seen(bid: str, session_id: str | None) -> None:
    """Record that Streamlit session `session_id` belongs to browser `bid` (its jobs live while one is open)."""
    if session_id is None:
        return
    reg = _registry()
    with reg.lock:
        reg.sessions.setdefault(bid, set()).add(session_id)
        reg.orphan_since.pop(bid, None)


def running_count() -> int:
    reg = _registry()
    with reg.lock:
        return sum(1 for j in reg.jobs.values() if j.is_running)


def queue_position(bid: str) -> int | None:
    """1-based place of `bid`'s job in the training queue, or None when it is not waiting."""
    reg = _registry()
    with reg.lock:
        for i, (b, _, _) in enumerate(reg.queue):
            if b == bid:
                return i + 1
    return None


def check_training_size(epochs: int, n_train: int) -> None:
    """Refuse a job larger than VAE_MAX_TRAINING_IMAGES (epochs x training images), with a message."""
    cap = int(hosting.limit("VAE_MAX_TRAINING_IMAGES"))
    if epochs * n_train > cap:
        raise ValueError(f"{epochs} epochs of {n_train:,} images is {epochs * n_train:,} images; this server "
                         f"trains at most {cap:,} per job (VAE_MAX_TRAINING_IMAGES): fewer epochs or a smaller set")


def _enqueue_or_run(reg: _Registry, bid: str, job, launch) -> None:
    """Run `launch()` now when a training slot is free, else queue it (the janitor starts it later)."""
    if not reg.queue and sum(1 for j in reg.jobs.values() if j.is_running) < max(1, int(
            hosting.limit("VAE_MAX_TRAINING_JOBS"))):
        launch()
    else:
        reg.queue.append((bid, job, launch))


def dispatch_queue(reg: _Registry | None = None) -> None:
    """Start queued jobs while training slots are free (the janitor calls this every half second)."""
    reg = reg or _registry()
    with reg.lock:
        while reg.queue:
            if sum(1 for j in reg.jobs.values() if j.is_running) >= max(1, int(hosting.limit("VAE_MAX_TRAINING_JOBS"))):
                return
            bid, job, launch = reg.queue.pop(0)
            if reg.jobs.get(bid) is job:
                try:
                    launch()
                except Exception:  # noqa: BLE001 - the job records its own failure; keep the queue moving
                    pass


def start_job(bid: str, model_config: ModelConfig, train_config: TrainConfig, dataset, device: str | None = None):
    """Start a new job for `bid` (refused while its previous job runs or waits). Returns the job.

    With VAE_MAX_TRAINING_JOBS jobs already running the job waits in a queue (state "pending",
    `queue_position(bid)`). Raises RuntimeError when a job of this browser is still running,
    ValueError/ConfigError on a config that does not fit the data or the size limit.
    """
    from vae.train import ProcessTrainingJob

    check_training_size(int(train_config.epochs), len(dataset.train))
    reg = _registry()
    with reg.lock:
        old = reg.jobs.get(bid)
        if old is not None and (old.is_running or queue_position(bid) is not None):
            raise RuntimeError("a training job of this browser is still running; stop it first")
        if old is not None:
            _keep_past_run(reg, bid, old)
        n = reg.runs.get(bid, 0) + 1
        out_dir = reg.janitor.runs_dir / bid / f"run-{n}"      # where the janitor keeps it while the job lives
        # a process per job: pages and trainings share no interpreter lock (vae.train.process_job)
        job = ProcessTrainingJob(model_config, train_config, dataset, out_dir=out_dir, device=device,
                                 overwrite=True)   # a run-N left in our scratch folder by an earlier server
        job.nice = int(hosting.limit("VAE_TRAINING_NICE"))
        reg.jobs[bid] = job
        reg.runs[bid] = n
        reg.stop_asked.pop(bid, None)            # a new run (id() of a freed job can come back)
        _enqueue_or_run(reg, bid, job, job.start)
    return job


def _keep_past_run(reg: _Registry, bid: str, job) -> None:
    """(Under reg.lock.) Keep the record of `bid`'s run `job` before a new Start replaces it; a job cancelled
    in the queue before it trained is not a run worth listing."""
    from vae.ui.training.run_history import keep_record, record_of

    snap = job.snapshot()
    if job.started or snap.state == "failed":
        record = record_of(snap, job.train_config, reg.runs.get(bid, 0))
        reg.past[bid] = keep_record(reg.past.get(bid, []), record)


def runs_of(bid: str) -> list:
    """This browser's runs as RunRecords, oldest first: the kept ones, then its current job's."""
    from vae.ui.training.run_history import record_of

    reg = _registry()
    with reg.lock:
        past, job, n = list(reg.past.get(bid, [])), reg.jobs.get(bid), reg.runs.get(bid, 0)
    return past + ([record_of(job.snapshot(), job.train_config, n)] if job is not None else [])


def remember_source(bid: str, source: str) -> None:
    """Keep the sidebar's model source of this browser beyond its session, so a reload keeps the trained model."""
    _registry().sources[bid] = source


def remembered_source(bid: str) -> str | None:
    return _registry().sources.get(bid)


def resume_job(bid: str, job, extra_epochs: int) -> None:
    """Resume `job` with `extra_epochs` more (through the queue, within the size limit)."""
    snap = job.snapshot()
    n_train = len(job.dataset.train) if job.dataset is not None else 0
    check_training_size(int(snap.epochs) + int(extra_epochs), n_train)
    reg = _registry()
    with reg.lock:
        if job.is_running or queue_position(bid) is not None:
            raise RuntimeError("this training job is still running")
        reg.stop_asked.pop(bid, None)            # the last Stop is history: the resumed run is not stopping
        _enqueue_or_run(reg, bid, job, lambda: job.resume(int(extra_epochs)))


def stop_job(bid: str, wait_s: float = 0.0, reg: _Registry | None = None) -> None:
    """Stop `bid`'s job now: a queued one leaves the queue, a running one stops within a step.

    A button's on_click callback: it runs before the script, so the request reaches the training
    thread in the time of one websocket message, not of a whole page run; `wait_s` (at most) then
    lets the thread checkpoint and end so that the page redraws as "stopped".
    """
    reg = reg or _registry()
    with reg.lock:
        job = reg.jobs.get(bid)
        reg.queue = [q for q in reg.queue if q[0] != bid]
    if job is None:
        return
    if not job.cancel():
        at_press = job.snapshot().step           # the server's latest report, before the request leaves
        job.stop()
        with reg.lock:
            reg.stop_asked[bid] = (id(job), at_press)
        if wait_s > 0:        # the thread checkpoints and ends: the page's next run can say "stopped"
            job.wait(wait_s)


def stop_asked_at(bid: str, job) -> int | None:
    """The step `job` had reached when its browser pressed Stop (None when it was not stopped from the page)."""
    reg = _registry()
    with reg.lock:
        rec = reg.stop_asked.get(bid)
    return rec[1] if rec is not None and rec[0] == id(job) else None


ACTIVE_STATES = ("pending", "running")


def describe_progress(snap, stopping: bool = False) -> str:
    """One line for the progress bar: state, epoch, step, ETA; "starting…" while a new run's process has not
    yet reported where it is (nothing is known, so no zeros are shown); "stopping…" from the press of Stop
    until the run has saved its checkpoint and ended (`stopping`)."""
    if stopping and snap.state in ACTIVE_STATES:
        return (f"stopping… · saving a checkpoint at epoch {snap.epoch}/{snap.epochs} · step {snap.step:,}"
                f"/{snap.total_steps:,}")
    if snap.state == "running" and not snap.total_steps and not snap.step:
        return f"starting… · {snap.epochs} epochs"
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
    Raises hosting.PathRefused on a shared server or for a folder outside the home and the project.
    """
    from vae.checkpoint import save_model

    dest_path = hosting.check_server_path(dest, "folder to save to")
    model = job.latest_model()
    if model is None:
        raise RuntimeError("no epoch has finished yet")
    info = model.checkpoint_info
    return save_model(model, dest_path, train_config=TrainConfig.from_dict(info["train"]),
                      metrics=info.get("metrics"), state=info.get("state"), dataset=info.get("dataset"),
                      overwrite=overwrite)


def save_form(job) -> None:
    """"Save to folder": a new or empty folder is written at once; an existing checkpoint is replaced
    only after the user confirms; a folder of anything else is refused (save_model never deletes it)."""
    from vae.checkpoint import CheckpointError, destination_status

    dest = st.text_input("Save to folder", placeholder="runs/my-vae", key="tr_save_dir").strip()
    pending = st.session_state.get("_tr_save_replace")           # the folder the user was asked about
    if pending and pending != dest:
        pending = st.session_state["_tr_save_replace"] = None
    if pending:
        st.warning(f"{dest} already holds a checkpoint. Replace it?", icon=":material/warning:")
        yes, no = st.columns(2)
        if no.button("Keep it", key="tr_save_keep"):
            st.session_state["_tr_save_replace"] = None
            st.rerun()
        confirmed = yes.button("Replace", type="primary", key="tr_save_replace")
    else:
        confirmed = False
    if not (confirmed or st.button("Save", disabled=not dest, icon=":material/save:")):
        return
    try:
        target = hosting.check_server_path(dest, "folder to save to")
        if not confirmed and destination_status(target) == "checkpoint":
            st.session_state["_tr_save_replace"] = dest
            st.rerun()
        path = save_trained_model(job, dest, overwrite=confirmed)
        st.session_state["_tr_save_replace"] = None
        st.success(f"Saved to {path}")
    except (CheckpointError, hosting.PathRefused, RuntimeError, OSError) as e:
        st.error(f"Could not save: {e}")
