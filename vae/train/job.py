"""`TrainingJob`: a Trainer in a background thread with a thread-safe snapshot of its progress."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vae.analysis.live_map import LiveLatentMap, LiveMapData
from vae.config import ModelConfig, TrainConfig
from vae.model import VAE
from vae.train.divergence import TrainingDiverged
from vae.train.inputs import _images_to_float, _mix, dataset_info, load_training_data, make_model
from vae.train.trainer import Trainer

__all__ = ["TrainingJob", "JobSnapshot", "JOB_STATES"]

JOB_STATES = ("pending", "running", "stopped", "finished", "failed")

# ---------------------------------------------------------------------------------------------
# a Trainer in a background thread
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JobSnapshot:
    """An immutable copy of a TrainingJob's progress, safe to read from any thread."""

    state: str                           # "pending" | "running" | "stopped" | "finished" | "failed"
    error: str | None                    # why it failed (one line), else None
    epoch: int                           # epochs completed
    epochs: int                          # epochs asked for in total
    step: int                            # optimiser steps completed
    total_steps: int
    progress: float                      # step / total_steps, 0..1
    eta_s: float | None                  # estimated seconds left (None before the first steps)
    elapsed_s: float                     # seconds spent training in this job
    step_history: list[dict[str, float]]  # per step: step, loss, recon, kl (nats/image), smooth (EMA of loss)
    epoch_history: list[dict[str, Any]]  # the per-epoch records (see Trainer)
    recon_pairs: np.ndarray | None       # uint8 (2, n, C, H, W): fixed test originals, their reconstructions
    samples: np.ndarray | None           # uint8 (n, C, H, W): decoded from fixed prior draws z
    checkpoint_path: str | None
    version: int                         # +1 each time the epoch-end fields above are refreshed
    model_config: dict[str, Any] = field(default_factory=dict)
    live_map: LiveMapData | None = None  # frames of the latent means of a fixed test subset (vae.analysis.live_map)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """float images in [0, 1] -> uint8 numpy, same shape."""
    return (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


class TrainingJob:
    """A Trainer running in a daemon thread. The thread never touches Streamlit: it writes progress
    into this object under a lock, and `snapshot()` hands out immutable copies.

    `dataset` may be an ImageDataset, or None to load the one `train_config` names (inside the thread).
    `resume_from` names a checkpoint to continue, exactly, up to `train_config.epochs` in all.
    """

    SMOOTHING = 0.05   # weight of the newest step in the smoothed loss

    def __init__(self, model_config: ModelConfig, train_config: TrainConfig, dataset=None,
                 out_dir: str | Path | None = None, *, n_recon: int = 8, n_samples: int = 16,
                 device: str | torch.device | None = None, overwrite: bool = False, live_map: bool = True,
                 resume_from: str | Path | None = None):
        self.model_config = model_config
        self.resume_from = resume_from   # a checkpoint to continue (Trainer.resume) instead of a new model
        self.overwrite = overwrite       # replace a checkpoint already in out_dir (the app's own scratch folder)
        self.train_config = copy.deepcopy(train_config)
        self.dataset = dataset
        self.out_dir = out_dir
        self.n_recon, self.n_samples = n_recon, n_samples
        self.device = device
        self.trainer: Trainer | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state, self._error = "pending", None
        self._steps: list[dict[str, float]] = []
        self._smooth: float | None = None
        self._recon_pairs: np.ndarray | None = None
        self._samples: np.ndarray | None = None
        self._weights: dict[str, torch.Tensor] | None = None
        self._version = 0
        self._model_cache: tuple[int, VAE] | None = None
        self._elapsed_before = 0.0
        self._started_at: float | None = None
        self._session_steps = 0       # steps done since the thread last started (for the ETA)
        self._session_step0 = 0
        self._stop_requested = False
        self._stop_step: int | None = None     # the step the training had reached when stop() was called
        self.live_map_enabled = live_map
        self.live_map: LiveLatentMap | None = None
        self.nice = 0                 # > 0: the training thread runs this much nicer (Linux: per thread)

    # ---- control ---------------------------------------------------------------------------
    def start(self) -> "TrainingJob":
        """Start training in a background thread (returns at once)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise RuntimeError("this training job is already running")
            if self.trainer is not None:
                raise RuntimeError("this job has run before; use resume()")
            self._launch()
        return self

    def _launch(self) -> None:
        self._state, self._error = "running", None
        self._stop_requested = False
        self._stop_step = None
        self._started_at = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="vae-training", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the training thread to stop after its current step (it checkpoints first)."""
        with self._lock:
            self._stop_requested = True
            trainer = self.trainer
            if self._stop_step is None and self._state == "running":
                self._stop_step = trainer.step if trainer is not None else 0
        if trainer is not None:
            trainer.stop()

    def resume(self, extra_epochs: int = 0) -> "TrainingJob":
        """Continue a stopped (or finished) job, adding `extra_epochs` to its total."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise RuntimeError("this training job is still running")
            if self.trainer is None:
                raise RuntimeError("this job never started; call start()")
            if self._state == "failed":
                raise RuntimeError(f"this job failed and cannot be resumed: {self._error}")
            if self.trainer.data_released:
                self.trainer.load_data(self.dataset)
                self._prepare_fixed(self.trainer)
            self.trainer.config.epochs += int(extra_epochs)
            self.train_config.epochs = self.trainer.config.epochs
            self._launch()
        return self

    def cancel(self) -> bool:
        """A job that never started (waiting in a queue) becomes "stopped" with nothing trained; True if so."""
        with self._lock:
            if self._thread is not None:
                return False
            self._state, self._stop_requested = "stopped", True
            return True

    def release_memory(self) -> bool:
        """Once the thread has ended: drop the trainer's float copies of the data (for MNIST about 220 MB),
        keeping the latest weights, the history and the checkpoint. `resume()` loads the data again.
        True when something was released."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            trainer = self.trainer
            if trainer is None or trainer.data_released:
                return False
            trainer.release_data()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the thread ends (or `timeout` seconds pass); True when it has ended."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def stop_reached_step(self) -> int | None:
        """The step the training had reached when this run's stop request reached it (None: not stopped)."""
        with self._lock:
            return self._stop_step

    @property
    def started(self) -> bool:
        """True once the job has built its trainer (it has run, or runs now)."""
        return self.trainer is not None

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---- the training thread ---------------------------------------------------------------
    def _run(self) -> None:
        if self.nice:       # a shared server: interactive requests first, training in the gaps
            try:
                import os
                tid = threading.get_native_id()
                os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + self.nice))
            except (AttributeError, OSError, PermissionError):
                pass
        try:
            if self.trainer is None:
                dataset = self.dataset if self.dataset is not None else load_training_data(self.train_config)
                self.dataset = dataset
                if self.resume_from is not None:      # continue a checkpoint exactly (a new process's resume)
                    trainer = Trainer.resume(self.resume_from, dataset, epochs=self.train_config.epochs,
                                             out_dir=self.out_dir, device=self.device)
                else:
                    model = make_model(self.model_config, seed=self.train_config.seed)
                    trainer = Trainer(model, dataset, self.train_config, out_dir=self.out_dir, device=self.device,
                                      overwrite=self.overwrite)
                trainer.add_callback("on_step_end", self._on_step)
                trainer.add_callback("on_epoch_end", lambda t, rec: self._refresh(t))
                self._prepare_fixed(trainer)
                self._refresh(trainer)
                if self.live_map_enabled:
                    self._start_live_map(trainer)
                with self._lock:
                    self.trainer = trainer
            with self._lock:
                self._session_step0, self._session_steps = self.trainer.step, 0
                if self._stop_requested:        # stop() came while the data was loading
                    self.trainer.stop()
            self.trainer.run()
            state, error = self.trainer.status, None
        except Exception as e:  # noqa: BLE001  (recorded for the page to show)
            state = "failed"
            error = str(e) if isinstance(e, TrainingDiverged) else f"{type(e).__name__}: {e}"
        with self._lock:
            self._state, self._error = state, error
            if self._started_at is not None:
                self._elapsed_before += time.perf_counter() - self._started_at
                self._started_at = None

    def _prepare_fixed(self, trainer: Trainer) -> None:
        test = self.dataset.test.images if len(self.dataset.test) else self.dataset.train.images
        pick = torch.linspace(0, len(test) - 1, min(self.n_recon, len(test))).round().long()
        self._fixed_x = _images_to_float(test[pick], trainer.device)              # (n, C, H, W)
        g = torch.Generator().manual_seed(_mix(self.train_config.seed, 0x5A))
        self._fixed_z = torch.randn(self.n_samples, self.model_config.latent_dim, generator=g).to(trainer.device)

    def _start_live_map(self, trainer: Trainer) -> None:
        """Frames of the latent map: the initial weights now, then at epoch ends and within long epochs."""
        live = LiveLatentMap.from_dataset(self.dataset, seed=self.train_config.seed)
        live.capture(trainer.model, float(trainer.epoch), trainer.step)
        trainer.add_callback("on_step_end", lambda t, info: live.maybe_capture(
            t.model, info["epoch"] - 1 + info["batch"] / info["batches"], info["step"]))
        trainer.add_callback("on_epoch_end", lambda t, rec: live.maybe_capture(
            t.model, rec["epoch"], rec["step"], epoch_end=True, force=rec["epoch"] >= t.config.epochs))
        self.live_map = live

    def _on_step(self, trainer: Trainer, info: dict[str, Any]) -> None:
        loss = info["loss"]
        a = self.SMOOTHING
        self._smooth = loss if self._smooth is None else (1 - a) * self._smooth + a * loss
        row = {"step": info["step"], "loss": loss, "recon": info["recon"], "kl": info["kl"], "smooth": self._smooth}
        with self._lock:
            self._steps.append(row)
            self._session_steps = trainer.step - self._session_step0

    @torch.inference_mode()
    def _refresh(self, trainer: Trainer) -> None:
        """Epoch end (and start): fixed reconstructions, prior samples, a CPU copy of the weights."""
        model = trainer.model
        was_training = model.training
        model.eval()
        mu, _ = model.encode(self._fixed_x)
        pairs = np.stack([_to_uint8(self._fixed_x), _to_uint8(model.decode(mu))])
        samples = _to_uint8(model.decode(self._fixed_z))
        weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        model.train(was_training)
        with self._lock:
            self._recon_pairs, self._samples, self._weights = pairs, samples, weights
            self._version += 1

    # ---- reading ---------------------------------------------------------------------------
    def _small_fields(self) -> dict[str, Any]:
        """(Under the lock.) The snapshot's fields other than the arrays, the step and epoch rows and the
        live map."""
        t = self.trainer
        step = t.step if t is not None else 0
        total = t.total_steps if t is not None else 0
        elapsed = self._elapsed_before + (time.perf_counter() - self._started_at
                                          if self._started_at is not None else 0.0)
        eta = None
        if self._state == "running" and self._session_steps > 0 and self._started_at is not None:
            rate = self._session_steps / max(time.perf_counter() - self._started_at, 1e-9)
            eta = max(total - step, 0) / rate
        return dict(state=self._state, error=self._error, epoch=t.epoch if t is not None else 0,
                    epochs=t.config.epochs if t is not None else self.train_config.epochs, step=step,
                    total_steps=total, progress=min(step / total, 1.0) if total else 0.0, eta_s=eta,
                    elapsed_s=elapsed, version=self._version,
                    checkpoint_path=str(t.checkpoint_path) if t is not None and t.checkpoint_path else None)

    def snapshot(self) -> JobSnapshot:
        """An immutable copy of the progress, taken under the lock (cheap; call it as often as you like)."""
        with self._lock:
            return JobSnapshot(
                **self._small_fields(), step_history=list(self._steps),
                epoch_history=[dict(r) for r in (self.trainer.history if self.trainer is not None else [])],
                recon_pairs=None if self._recon_pairs is None else self._recon_pairs.copy(),
                samples=None if self._samples is None else self._samples.copy(),
                model_config=self.model_config.to_dict(),
                live_map=self.live_map.data() if self.live_map is not None else None)

    def latest_model(self) -> VAE | None:
        """A CPU, eval-mode VAE holding the weights of the latest finished epoch (the initial weights
        until the first epoch ends; None until the job has built its model).

        The same object is returned until the next epoch ends; treat it as read-only. Its
        `checkpoint_info` is filled like a loaded checkpoint's ({"train", "state", "dataset", "metrics"}).
        """
        got = self._latest_versioned()
        return None if got is None else got[1]

    def _latest_versioned(self) -> tuple[int, VAE] | None:
        """(version, latest_model()): the version its weights were refreshed at, read with them."""
        with self._lock:
            if self._weights is None:
                return None
            if self._model_cache is not None and self._model_cache[0] == self._version:
                return self._model_cache
            version, weights = self._version, self._weights
            history = [dict(r) for r in self.trainer.history] if self.trainer is not None else []
            state = self.trainer.state(self._state) if self.trainer is not None else {}
        model = VAE(self.model_config)
        model.load_state_dict(weights)
        model.eval()
        model.checkpoint_info = {"train": self.train_config.to_dict(), "state": state,
                                 "dataset": dataset_info(self.dataset, self.train_config) if self.dataset else None,
                                 "metrics": history}
        with self._lock:
            self._model_cache = (version, model)
        return version, model

    def progress_since(self, n_steps: int, n_frames: int) -> dict[str, Any]:
        """What changed since a reader last saw `n_steps` step rows and `n_frames` live-map frames: the
        snapshot's small fields, the new step rows and the new frames (for a reader in another process,
        `vae.train.process_job`). The epoch history and the big arrays change only at epoch ends, so they
        are in `epoch_payload()` (the history as `info["metrics"]`)."""
        with self._lock:
            snap_fields = dict(self._small_fields(), stop_step=self._stop_step)
            steps = self._steps[n_steps:]
        live = None
        if self.live_map is not None:
            d = self.live_map.data()
            live = dict(frames=d.frames[n_frames:], projection=d.projection, overhead_s=d.overhead_s,
                        skipped=d.skipped)
            if n_frames == 0:
                live.update(index=d.index, labels=d.labels, class_names=d.class_names, factors=d.factors,
                            factor_names=d.factor_names, split=d.split)
        return dict(snap_fields, new_steps=steps, live_map=live)

    def epoch_payload(self) -> dict[str, Any] | None:
        """The arrays refreshed at epoch ends: reconstructions, samples, the CPU weights (as numpy) and
        the checkpoint info of `latest_model()` (its "metrics" are the epoch history); None before the
        model exists."""
        while True:
            got = self._latest_versioned()
            if got is None:
                return None
            version, model = got
            with self._lock:
                # an epoch that ended while the model was built: its weights instead (labelled with the newer
                # version, these older weights were never sent again, and the parent kept them to the end)
                if self._version == version:
                    pairs, samples = self._recon_pairs, self._samples
                    break
        return dict(version=version, recon_pairs=pairs, samples=samples, info=model.checkpoint_info,
                    weights={k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})
