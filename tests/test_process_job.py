"""ProcessTrainingJob: a training in a child process behind TrainingJob's API (what the app runs).

What must hold: the same snapshots and model as a thread; Stop reaches it within a step; a resume in a
new process continues exactly; the process ends with its run (no memory held between runs); a crash or
a kill of the process is a failed job with a message and a loadable checkpoint, never a page that waits.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
import torch

from vae import ModelConfig, TrainConfig, load_model
from vae.train import ProcessTrainingJob, TrainingJob
from tests.processes import alive
from tests.waits import HANG_S

SMALL = ModelConfig(image_size=8, hidden=(32,), latent_dim=2)


def _wait_step(job, step: int, timeout: float = HANG_S) -> None:
    """Until the job has trained `step` steps (or ended). Training processes are niced: on a busy machine
    they get a fraction of a core, so the bound is the suite's hang bound, not a guess of the work's time."""
    deadline = time.monotonic() + timeout
    while job.snapshot().step < step and job.snapshot().state in ("pending", "running"):
        assert time.monotonic() < deadline, job.snapshot()
        time.sleep(0.02)


def test_a_process_job_reports_like_a_thread_job_and_gives_the_same_model(digits, tmp_path):
    config = TrainConfig(epochs=3, batch_size=64, seed=2, device="cpu")
    thread = TrainingJob(SMALL, config, digits, out_dir=tmp_path / "thread", n_recon=6, n_samples=9)
    thread.start()
    proc = ProcessTrainingJob(SMALL, config, digits, out_dir=tmp_path / "proc", n_recon=6, n_samples=9)
    assert proc.snapshot().state == "pending" and not proc.is_running
    proc.start()
    assert proc.is_running                         # running from the call on, before the child reports
    assert thread.wait(HANG_S) and proc.wait(HANG_S)
    a, b = thread.snapshot(), proc.snapshot()
    assert b.state == "finished" and b.error is None, b.error
    assert (b.epoch, b.epochs, b.step, b.total_steps, b.progress) == (a.epoch, a.epochs, a.step, a.total_steps, 1.0)
    assert [r["loss"] for r in b.step_history] == pytest.approx([r["loss"] for r in a.step_history])
    assert [r["test_loss"] for r in b.epoch_history] == pytest.approx([r["test_loss"] for r in a.epoch_history])
    # the ~10 reports a second carry no history; it travels once per epoch, with the epoch's arrays
    assert "epoch_history" not in thread.progress_since(0, 0)
    assert thread.epoch_payload()["info"]["metrics"] == a.epoch_history
    assert np.array_equal(b.recon_pairs, a.recon_pairs) and np.array_equal(b.samples, a.samples)
    # the live map: the initial weights and the last epoch at least (captures between are skipped by time)
    assert b.live_map is not None and len(b.live_map.frames) >= 2
    assert (b.live_map.frames[0].step, b.live_map.frames[-1].step) == (0, b.step)
    # ... its subset's split and positions as the thread's: the page takes their images from the run's data
    assert b.live_map.split == a.live_map.split == "test" and np.array_equal(b.live_map.index, a.live_map.index)
    assert b.checkpoint_path == str(tmp_path / "proc")
    model = proc.latest_model()
    assert proc.latest_model() is model and not model.training
    # the same training; sums may run on another number of threads in the child, so not bit for bit
    saved = load_model(tmp_path / "proc").state_dict()
    for name, p in thread.latest_model().state_dict().items():
        assert torch.allclose(model.state_dict()[name], p, rtol=1e-3, atol=1e-4), name
        assert torch.equal(saved[name], model.state_dict()[name])
    assert set(model.checkpoint_info) == {"train", "state", "dataset", "metrics"}
    deadline = time.monotonic() + HANG_S                # the run ended, so did its process
    while alive(proc.pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_stop_reaches_the_process_within_a_step_and_a_resume_continues_exactly(digits, tmp_path):
    config = TrainConfig(epochs=6, batch_size=16, seed=3, device="cpu")
    straight = ProcessTrainingJob(SMALL, config, digits, out_dir=tmp_path / "straight")  # both in children:
    straight.start()                                                              # the same thread count
    job = ProcessTrainingJob(SMALL, config, digits, out_dir=tmp_path / "stopped")
    job.start()
    _wait_step(job, 20)
    job.stop()
    assert job.wait(HANG_S)
    snap = job.snapshot()
    assert snap.state == "stopped" and 20 <= snap.step < snap.total_steps
    assert snap.step - job.stop_reached_step <= 1          # the library stops within a step of the request
    first_pid = job.pid
    job.resume()                                            # a new process, from the checkpoint
    assert job.pid != first_pid
    assert job.wait(HANG_S) and straight.wait(HANG_S)
    a, b = straight.snapshot(), job.snapshot()
    assert b.state == "finished" and b.epoch == 6 and b.step == a.step, b.error
    assert [r["step"] for r in b.step_history] == list(range(1, b.step + 1))   # one history across processes
    assert [r["epoch"] for r in b.epoch_history] == list(range(1, 7))
    assert [r["test_loss"] for r in b.epoch_history] == pytest.approx([r["test_loss"] for r in a.epoch_history])
    for name, p in straight.latest_model().state_dict().items():
        assert torch.equal(job.latest_model().state_dict()[name], p), name
    assert job.snapshot().elapsed_s > 0
    job.resume(extra_epochs=1)                              # "Train more"
    assert job.wait(HANG_S) and job.snapshot().epoch == 7 == job.snapshot().epochs


def test_a_killed_training_process_is_a_failed_job_with_a_loadable_checkpoint(digits, tmp_path):
    job = ProcessTrainingJob(SMALL, TrainConfig(epochs=500, batch_size=16, device="cpu"), digits,
                             out_dir=tmp_path / "run")
    job.start()
    _wait_step(job, 200)                                    # past the first epoch's checkpoint
    os.kill(job.pid, signal.SIGKILL)                        # e.g. the kernel's out-of-memory killer
    assert job.wait(HANG_S)
    snap = job.snapshot()
    assert snap.state == "failed" and "ended unexpectedly" in snap.error and "-9" in snap.error
    assert load_model(tmp_path / "run") is not None
    assert job.latest_model() is not None
    with pytest.raises(RuntimeError, match="failed"):
        job.resume()


def test_a_job_that_cannot_start_fails_with_its_reason(digits):
    job = ProcessTrainingJob(ModelConfig(image_size=28, hidden=(8,)), TrainConfig(epochs=1, device="cpu"), digits)
    job.start()
    assert job.wait(HANG_S)
    snap = job.snapshot()
    assert snap.state == "failed" and "(1, 8, 8)" in snap.error
    assert job.latest_model() is None


def test_a_queued_job_is_cancelled_without_a_process(digits):
    job = ProcessTrainingJob(SMALL, TrainConfig(epochs=1, device="cpu"), digits)
    assert job.cancel() and job.snapshot().state == "stopped" and job.pid is None
    assert job.wait(0) and not job.release_memory()


def test_a_resumed_job_shows_where_it_is_from_the_first_snapshot(digits, tmp_path):
    """Issue 26: after Stop then Resume the Train page read "running · epoch 0/200 · step 0/0 · 0%" until the
    new process reported its position. Every snapshot of the resumed run shows at least the stopped position."""
    from vae.ui.training.jobs import describe_progress

    job = ProcessTrainingJob(SMALL, TrainConfig(epochs=40, batch_size=16, seed=3, device="cpu"), digits,
                             out_dir=tmp_path / "run")
    job.start()
    _wait_step(job, 150)                                    # past the first epoch (113 steps)
    job.stop()
    assert job.wait(HANG_S)
    stopped = job.snapshot()
    assert stopped.state == "stopped" and stopped.epoch >= 1 and stopped.total_steps > 0
    job.resume()
    seen = []
    try:
        deadline = time.monotonic() + HANG_S
        while True:                                         # until the new process has trained a step
            snap = job.snapshot()
            seen.append((snap.state, snap.epoch, snap.step, snap.total_steps, describe_progress(snap)))
            if snap.step > stopped.step or snap.state != "running":
                break
            assert time.monotonic() < deadline, seen[-1]
            time.sleep(0.005)
    finally:
        job.stop()
        job.wait(60)
    bad = [s for s in seen if s[1] < stopped.epoch or s[2] < stopped.step or s[3] == 0]
    assert not bad, (stopped.epoch, stopped.step, bad[:3])
    assert f"epoch {stopped.epoch}/40" in seen[0][4] and "step 0/0" not in seen[0][4]


def test_an_epoch_that_ends_while_the_payload_is_made_sends_its_own_weights(digits, tmp_path, monkeypatch):
    """The child sends the weights of an epoch once, labelled with their version. An epoch that ended while
    epoch_payload built its model (from the weights before) labelled those older weights with the newer version:
    they were never sent again, and the parent's latest_model() kept them to the end (a resumed run's final
    weights differed from a straight run's in a CI rehearsal, its test losses equal)."""
    import vae.train.job as job_module

    job = TrainingJob(SMALL, TrainConfig(epochs=1, batch_size=64, seed=0, device="cpu"), digits,
                      out_dir=tmp_path / "run")
    job.start()
    assert job.wait(HANG_S) and job.snapshot().state == "finished"
    newer = {k: v + 1.0 for k, v in job._weights.items()}

    class EpochEndsWhileBuilt(job_module.VAE):
        def eval(self):                      # latest_model() builds its model outside the lock: an epoch ends
            with job._lock:
                if job._weights is not newer:
                    job._weights, job._version = newer, job._version + 1
            return super().eval()

    monkeypatch.setattr(job_module, "VAE", EpochEndsWhileBuilt)
    job._model_cache = None
    payload = job.epoch_payload()
    assert payload["version"] == job._version
    for name, w in newer.items():
        assert np.array_equal(payload["weights"][name], w.numpy()), name
