"""`ProcessTrainingJob`: a `TrainingJob` run in a child process, behind the same API.

Why a process: a server's pages and its trainings then share no interpreter lock. A training thread
in the server runs at a lower priority, so the scheduler parks it often, and a parked thread that
holds the GIL makes every page wait (measured by `bench/load.py`: with two MNIST trainings the
Python side of a key press went from about 0.3 s to 0.7-1.2 s p50 with 10 pages). In a process of
its own, a training's priority works as meant, its memory is freed when it ends, and a crash (or
the kernel's out-of-memory killer) ends only the training, which then shows as failed.

One child runs one run: it starts, trains, checkpoints and exits, so a server holds a process (and
its memory) only while something trains. Resume starts a new child that continues the checkpoint
exactly (`Trainer.resume`: weights, Adam state, position, random streams); the parent keeps the
history across children. The parent and each child talk over a `multiprocessing` pipe; every
message is a pickle made by this module of plain data (numbers, strings, numpy arrays, the data set
the parent already holds), never a file a user handed in; sending bytes keeps torch from moving
tensors into shared memory.

    parent -> child   (TrainingJob keyword arguments,) first; then ("stop",) or ("exit",)
    child -> parent   ("progress", fields) about ten times a second while something changes
                      ("epoch", payload) when an epoch ends (reconstructions, samples, weights)

A child also stops (and checkpoints) when the parent's end of the pipe closes: the server is gone.
"""

from __future__ import annotations

import contextlib
import copy
import multiprocessing as mp
import os
import pickle
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vae.analysis.live_map import LatentFrame, LiveMapData
from vae.config import ModelConfig, TrainConfig
from vae.model import VAE
from vae.train.job import JobSnapshot

__all__ = ["ProcessTrainingJob"]

POLL_S = 0.1          # how often the child looks for commands and sends progress
# What the forkserver imports once, so that a job's child starts with it: torch._dynamo too, which the first
# torch.optim.Adam of a process imports (about 1 CPU-s a job before; bench/job_start.py)
FORKSERVER_PRELOAD = ["torch._dynamo", "vae.train.process_job"]

_context_lock = threading.Lock()
_context = None


def _mp_context():
    """forkserver where there is one (a fork of a clean server that has torch imported already: a
    job starts in a fraction of a second), else spawn (macOS, Windows)."""
    global _context
    with _context_lock:
        if _context is None:
            if sys.platform.startswith("linux"):
                _context = mp.get_context("forkserver")
                _context.set_forkserver_preload(FORKSERVER_PRELOAD)
            else:
                _context = mp.get_context("spawn")
        return _context


@contextlib.contextmanager
def _without_main_script():
    """While a child process starts: hide a `__main__` that is a script file from multiprocessing.

    Python's spawn and forkserver children re-run the parent's main script (as `__mp_main__`) when
    `__main__` has a `__file__` and no import name. Inside Streamlit, `__main__` is the page script being
    run (app.py, or AppTest's temporary script, which stays there after the run), so every training
    process ran the whole app again before training (loading models and data sets), or crashed on a
    script that cannot run alone. The child needs nothing from it: its target lives in this module."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None or not getattr(main, "__file__", None):
        yield
        return
    stub = types.ModuleType("__main__")          # no __file__: the child keeps its own __main__
    sys.modules["__main__"] = stub
    try:
        yield
    finally:
        if sys.modules.get("__main__") is stub:   # a script run that began meanwhile keeps its own
            sys.modules["__main__"] = main


def _send(conn, *msg) -> None:
    conn.send_bytes(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))


def _recv(conn):
    return pickle.loads(conn.recv_bytes())      # our own messages only (see the module docstring)


# ---------------------------------------------------------------------------------------------- child
def _lower_priority(nice: int) -> None:
    """Run this process `nice` steps nicer than the server. Where Linux groups processes by session for
    scheduling (autogroup), a nice value counts only inside the group, so the training also gets a
    session of its own with that nice value: it then yields to every other session on the machine
    (the server's pages, a shell), not only to the server's own threads."""
    try:
        os.setsid()
        Path("/proc/self/autogroup").write_text(str(min(19, nice)))
    except OSError:
        pass                                   # no autogroup (or not Linux): the plain nice value below
    try:
        os.nice(nice)
    except OSError:
        pass


def _child_main(conn, nice: int) -> None:
    """The child process: build the TrainingJob from the first message, run it to its end, report."""
    from vae.train.job import TrainingJob

    if nice:
        _lower_priority(nice)
    try:
        (kwargs,) = _recv(conn)
    except (EOFError, OSError):
        return
    try:
        job = TrainingJob(**kwargs)
    except Exception as e:  # noqa: BLE001 - reported to the page like a failure inside the job
        _send(conn, "progress", dict(state="failed", error=f"{type(e).__name__}: {e}", new_steps=[], live_map=None))
        return
    n_steps = n_frames = 0
    sent_version, last = -1, None

    def report() -> None:
        nonlocal n_steps, n_frames, sent_version, last
        fields = job.progress_since(n_steps, n_frames)
        n_steps += len(fields["new_steps"])
        if fields["live_map"] is not None:
            n_frames += len(fields["live_map"]["frames"])
        if fields["version"] != sent_version:
            payload = job.epoch_payload()
            if payload is not None:
                sent_version = payload["version"]
                _send(conn, "epoch", payload)
        key = (fields["state"], fields["step"], fields["version"], n_frames, fields["error"], fields["stop_step"])
        if key != last or fields["new_steps"]:
            last = key
            _send(conn, "progress", fields)

    try:
        job.start()
        while job.is_running:
            if conn.poll(POLL_S):
                msg = _recv(conn)
                if msg[0] in ("stop", "exit"):
                    job.stop()
            report()
        job.wait()
        report()                               # the end: final state, history and weights
    except (EOFError, OSError):
        job.stop()                             # the server is gone: stop, leaving the checkpoint
        job.wait(60)


# ---------------------------------------------------------------------------------------------- parent
class ProcessTrainingJob:
    """A TrainingJob in child processes: `start`, `stop`, `resume`, `cancel`, `release_memory`, `wait`,
    `snapshot` and `latest_model` as in `vae.train.job.TrainingJob` (see there for what they mean), and
    `close`. `nice` (set before `start`) lowers the children's priority."""

    def __init__(self, model_config: ModelConfig, train_config: TrainConfig, dataset=None,
                 out_dir: str | Path | None = None, *, n_recon: int = 8, n_samples: int = 16,
                 device: str | torch.device | None = None, overwrite: bool = False, live_map: bool = True):
        self.model_config = model_config
        self.train_config = copy.deepcopy(train_config)
        self.dataset = dataset
        self.out_dir = out_dir
        self._options = dict(n_recon=n_recon, n_samples=n_samples, device=None if device is None else str(device),
                             overwrite=overwrite, live_map=live_map)
        self.nice = 0
        self._cond = threading.Condition()
        self._state, self._error = "pending", None
        self._fields: dict[str, Any] = {}         # the current child's latest report
        self._elapsed_before = 0.0                 # training seconds of earlier children
        self._steps: list[dict[str, float]] = []   # every child's step rows, in order
        self._frames: list[LatentFrame] = []
        self._map: dict[str, Any] | None = None
        self._epoch: dict[str, Any] | None = None  # the latest epoch payload
        self._version = 0                          # +1 per epoch payload, across children
        self._model_cache: tuple[int, VAE] | None = None
        self._proc = None
        self._conn = None
        self._generation = 0                       # which child's messages count
        self._send_lock = threading.Lock()

    # ---- control ---------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._generation > 0

    @property
    def pid(self) -> int | None:
        """The running child's process id (None when no child was started)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        with self._cond:
            return self._state == "running"

    @property
    def stop_reached_step(self) -> int | None:
        """The step the training had reached when this run's Stop reached its process (None: not stopped)."""
        with self._cond:
            return self._fields.get("stop_step")

    def start(self) -> "ProcessTrainingJob":
        """Start training in a child process (returns at once; the job is "running" from now)."""
        with self._cond:
            if self._generation:
                raise RuntimeError("this job has run before; use resume()")
        self._launch(resume_from=None)
        return self

    def resume(self, extra_epochs: int = 0) -> "ProcessTrainingJob":
        """Continue a stopped (or finished) job from its checkpoint, adding `extra_epochs` to its total."""
        with self._cond:
            if self._state == "running":
                raise RuntimeError("this training job is still running")
            if not self._generation:
                raise RuntimeError("this job never started; call start()")
            if self._state == "failed":
                raise RuntimeError(f"this job failed and cannot be resumed: {self._error}")
            path = self._fields.get("checkpoint_path")
            if not path:
                raise RuntimeError("this job wrote no checkpoint to continue from")
            self.train_config.epochs = max(self.train_config.epochs, self._fields.get("epochs", 0)) + int(extra_epochs)
        self._launch(resume_from=path)
        return self

    def _launch(self, resume_from: str | None) -> None:
        with self._cond:
            self._generation += 1
            generation = self._generation
            self._elapsed_before += float(self._fields.get("elapsed_s", 0.0))
            self._state, self._error = "running", None
            self._fields = {k: v for k, v in self._fields.items() if k not in ("stop_step", "elapsed_s", "eta_s")}
        kwargs = dict(self._options, model_config=self.model_config, train_config=copy.deepcopy(self.train_config),
                      dataset=self.dataset, out_dir=self.out_dir, resume_from=resume_from)
        ctx = _mp_context()
        parent, child = ctx.Pipe()
        try:
            proc = ctx.Process(target=_child_main, args=(child, int(self.nice)), name="vae-training", daemon=True)
            with _without_main_script():
                proc.start()
            child.close()
            _send(parent, kwargs)
        except Exception as e:  # noqa: BLE001 - no process: the run failed to start, shown on the page
            with self._cond:
                self._state, self._error = "failed", f"could not start the training process: {type(e).__name__}: {e}"
                self._cond.notify_all()
            return
        with self._cond:
            self._proc, self._conn = proc, parent
        threading.Thread(target=self._read, args=(proc, parent, generation), name="vae-training-reader",
                         daemon=True).start()

    def _command(self, *msg) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            with self._send_lock:
                _send(conn, *msg)
            return True
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        """Ask the training to stop after its current step (it checkpoints first, then its process ends)."""
        self._command("stop")

    def cancel(self) -> bool:
        """A job that never started (waiting in a queue) becomes "stopped" with nothing trained; True if so."""
        with self._cond:
            if self._generation:
                return False
            self._state = "stopped"
            self._cond.notify_all()
            return True

    def release_memory(self) -> bool:
        """Nothing to release: a run's memory is its process's, gone when the run ends. False."""
        return False

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the training stops running (or `timeout` seconds pass); True when it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._state == "running":
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Stop a running child and wait for its process to end (the checkpoint stays)."""
        self._command("exit")
        proc = self._proc
        if proc is not None:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join(5)

    # ---- the child's messages ------------------------------------------------------------------
    def _read(self, proc, conn, generation: int) -> None:
        while True:
            try:
                msg = _recv(conn)
            except (EOFError, OSError):
                break
            with self._cond:
                if generation != self._generation:
                    continue
                if msg[0] == "progress":
                    self._on_progress(msg[1])
                elif msg[0] == "epoch":
                    self._version += 1
                    self._epoch = dict(msg[1], version=self._version)
                self._cond.notify_all()
        conn.close()
        proc.join(10)
        with self._cond:
            if generation == self._generation and self._state == "running":
                code = proc.exitcode
                why = "killed, perhaps for lack of memory" if code is not None and code < 0 else "it crashed"
                self._state = "failed"
                self._error = (f"the training process ended unexpectedly (exit code {code}: {why}); "
                               "the last checkpoint is kept")
            self._cond.notify_all()

    def _on_progress(self, fields: dict[str, Any]) -> None:
        """(Under the lock.) Fold one report of the current child in."""
        live = fields.pop("live_map")
        self._steps.extend(fields.pop("new_steps"))
        if live is not None:
            if self._map is None:
                self._map = {k: live[k] for k in ("index", "labels", "class_names", "factors", "factor_names", "split")}
            self._frames.extend(live["frames"])
            self._map.update(projection=live["projection"], overhead_s=live["overhead_s"], skipped=live["skipped"])
        if not fields.get("total_steps") and self._fields.get("total_steps"):
            # a resumed child reports before its trainer has read the checkpoint (epoch 0, step 0/0): keep the
            # position the run stopped at until the child knows its own
            for k in ("epoch", "step", "total_steps", "progress", "checkpoint_path"):
                fields.pop(k, None)
            fields["epochs"] = max(fields.get("epochs", 0), self.train_config.epochs)
        self._fields.update(fields)
        self._state, self._error = fields["state"], fields["error"]

    # ---- reading ---------------------------------------------------------------------------
    def snapshot(self) -> JobSnapshot:
        """An immutable copy of the latest progress the child reported (at most POLL_S old)."""
        with self._cond:
            f, ep, m = self._fields, self._epoch, self._map
            live = None
            if m is not None and "projection" in m:
                live = LiveMapData(index=m["index"], labels=m["labels"], class_names=m["class_names"],
                                   factors=m["factors"], factor_names=m["factor_names"], projection=m["projection"],
                                   frames=tuple(self._frames), overhead_s=m["overhead_s"], skipped=m["skipped"],
                                   split=m["split"])
            return JobSnapshot(
                state=self._state, error=self._error, epoch=f.get("epoch", 0),
                epochs=max(f.get("epochs", 0), self.train_config.epochs), step=f.get("step", 0),
                total_steps=f.get("total_steps", 0), progress=f.get("progress", 0.0),
                eta_s=f.get("eta_s") if self._state == "running" else None,
                elapsed_s=self._elapsed_before + f.get("elapsed_s", 0.0),
                step_history=list(self._steps),
                epoch_history=[] if ep is None else [dict(r) for r in ep["info"].get("metrics") or []],
                recon_pairs=None if ep is None or ep["recon_pairs"] is None else ep["recon_pairs"].copy(),
                samples=None if ep is None or ep["samples"] is None else ep["samples"].copy(),
                checkpoint_path=f.get("checkpoint_path"), version=self._version,
                model_config=self.model_config.to_dict(), live_map=live)

    def latest_model(self) -> VAE | None:
        """A CPU, eval-mode VAE with the weights of the latest finished epoch (as TrainingJob's)."""
        with self._cond:
            ep = self._epoch
            if ep is None:
                return None
            if self._model_cache is not None and self._model_cache[0] == ep["version"]:
                return self._model_cache[1]
        model = VAE(self.model_config)
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ep["weights"].items()})
        model.eval()
        model.checkpoint_info = copy.deepcopy(ep["info"])
        with self._cond:
            self._model_cache = (ep["version"], model)
        return model
