"""Trainer and TrainingJob on the bundled 8x8 digits: learning, stop/resume, NaN guard, determinism, threads."""

from __future__ import annotations

import json
import math
import threading
import time

import numpy as np
import pytest
import torch

from vae import ConfigError, ModelConfig, TrainConfig, load_model
from vae.checkpoint import load_optimizer_state
from vae.train import JobSnapshot, Trainer, TrainingDiverged, TrainingJob, make_model
from tests.waits import HANG_S

SMALL = ModelConfig(image_size=8, hidden=(32,), latent_dim=2)
STEPS_PER_EPOCH = 12  # 1497 training digits / batch 128


pytestmark = pytest.mark.usefixtures("one_thread")


def trainer_for(digits, out_dir=None, seed=0, **cfg) -> Trainer:
    config = TrainConfig(**{"epochs": 3, "batch_size": 128, "lr": 3e-3, "seed": seed, "device": "cpu", **cfg})
    return Trainer(make_model(SMALL, seed=seed), digits, config, out_dir=out_dir)


def losses(history):
    return [(r["train_loss"], r["test_loss"], r["recon"], r["kl"]) for r in history]


def test_training_lowers_the_loss_and_writes_a_checkpoint(digits, tmp_path):
    trainer = trainer_for(digits, tmp_path / "run", epochs=5)
    seen_steps = []
    trainer.add_callback("on_step_end", lambda t, info: seen_steps.append(info["step"]))
    history = trainer.run()

    assert trainer.status == "finished"
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5]
    assert [r["step"] for r in history] == [STEPS_PER_EPOCH * e for e in range(1, 6)]
    assert seen_steps == list(range(1, 5 * STEPS_PER_EPOCH + 1))
    assert history[-1]["test_loss"] < history[0]["test_loss"] - 3  # nats per image
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    for r in history:   # loss = recon + kl, all per image
        assert r["train_loss"] == pytest.approx(r["recon"] + r["kl"], rel=1e-6)
        assert r["test_loss"] == pytest.approx(r["test_recon"] + r["test_kl"], rel=1e-6)
        assert r["kl"] >= 0 and r["samples_per_s"] > 0 and r["lr"] == 3e-3

    model = load_model(tmp_path / "run")
    assert model.checkpoint_info["state"]["status"] == "finished"
    assert model.checkpoint_info["state"]["epoch"] == 5
    assert model.checkpoint_info["dataset"]["name"] == "digits"
    assert model.checkpoint_info["dataset"]["image_shape"] == [1, 8, 8]
    assert [r["epoch"] for r in model.checkpoint_info["metrics"]] == [1, 2, 3, 4, 5]
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["test_loss"] for line in lines] == [r["test_loss"] for r in history]
    for name, p in trainer.model.state_dict().items():
        assert torch.equal(p.cpu(), model.state_dict()[name])


def test_same_seed_same_losses_other_seed_differs(digits):
    a = trainer_for(digits, seed=3, epochs=2).run()
    b = trainer_for(digits, seed=3, epochs=2).run()
    c = trainer_for(digits, seed=4, epochs=2).run()
    assert losses(a) == losses(b)
    assert losses(a) != losses(c)


def test_stop_is_honoured_within_one_step(digits, tmp_path):
    trainer = trainer_for(digits, tmp_path / "run", epochs=50)
    trainer.add_callback("on_step_end", lambda t, info: t.stop() if info["step"] == 5 else None)
    trainer.run()
    assert trainer.status == "stopped"
    assert trainer.step == 5 and trainer.epoch == 0
    state = load_model(tmp_path / "run").checkpoint_info["state"]
    assert state["status"] == "stopped" and state["step"] == 5 and state["batch"] == 5


def test_stop_then_resume_continues_exactly(digits, tmp_path):
    """Stopped mid-epoch 2 and resumed from disk == never stopped: same history, weights, optimizer."""
    straight = trainer_for(digits, epochs=3)
    straight.run()

    first = trainer_for(digits, tmp_path / "run", epochs=3)
    first.add_callback("on_step_end", lambda t, info: t.stop() if info["step"] == 17 else None)
    first.run()
    assert first.status == "stopped" and first.epoch == 1 and first.step == 17
    saved_adam = {k: v.clone() for k, v in first.optimizer.state_dict()["state"][0].items()}

    resumed = Trainer.resume(tmp_path / "run")
    assert (resumed.epoch, resumed.step, resumed.batch) == (1, 17, 5)
    assert [r["epoch"] for r in resumed.history] == [1]
    restored = resumed.optimizer.state_dict()["state"][0]
    for k, v in saved_adam.items():
        assert torch.equal(restored[k], v), k
    history = resumed.run()

    assert resumed.status == "finished"
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert losses(history) == pytest.approx(losses(straight.history), rel=1e-5)
    for (name, p), q in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-6), name
    assert len(load_model(tmp_path / "run").checkpoint_info["metrics"]) == 3


def test_resume_with_more_epochs_counts_on(digits, tmp_path):
    trainer_for(digits, tmp_path / "run", epochs=2).run()
    resumed = Trainer.resume(tmp_path / "run", epochs=4)
    history = resumed.run()
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert history[-1]["step"] == 4 * STEPS_PER_EPOCH
    fresh = make_model(SMALL)
    opt = torch.optim.Adam(fresh.parameters())
    assert load_optimizer_state(tmp_path / "run", opt)
    assert int(opt.state_dict()["state"][0]["step"]) == 4 * STEPS_PER_EPOCH


@pytest.mark.parametrize("schedule", ["cosine", "exponential"])
def test_lr_schedule_decays_from_lr_to_lr_min_per_step(schedule):
    cfg = TrainConfig(epochs=10, lr=1e-3, lr_min=1e-5, lr_schedule=schedule, lr_decay_start=4)
    assert cfg.lr_at(0) == cfg.lr_at(4) == 1e-3                     # constant until the decay starts
    assert cfg.lr_at(10) == pytest.approx(1e-5) and cfg.lr_at(12) == pytest.approx(1e-5)
    rates = [cfg.lr_at(4 + k / 10) for k in range(61)]
    assert all(a > b for a, b in zip(rates, rates[1:]))             # strictly decreasing, step by step
    middle = cfg.lr_at(7)
    expected = {"cosine": 1e-5 + (1e-3 - 1e-5) / 2, "exponential": math.sqrt(1e-3 * 1e-5)}[schedule]
    assert middle == pytest.approx(expected)
    assert TrainConfig(epochs=10, lr=1e-3).lr_at(9.5) == 1e-3         # "constant" is the default


def test_lr_schedule_fields_are_validated():
    with pytest.raises(ConfigError, match="lr_schedule"):
        TrainConfig(lr_schedule="linear")
    with pytest.raises(ConfigError, match="lr_min"):
        TrainConfig(lr_schedule="cosine", lr=1e-4, lr_min=1e-3)
    with pytest.raises(ConfigError, match="lr_decay_start"):
        TrainConfig(lr_decay_start=-1)
    TrainConfig(lr=1e-6)   # lr_min only has to sit below lr when a schedule decays


def test_trainer_sets_the_scheduled_rate_before_every_step(digits):
    trainer = trainer_for(digits, epochs=2, lr_schedule="exponential", lr_min=1e-4)
    seen: list[float] = []
    trainer.add_callback("on_step_end", lambda t, info: seen.append((info["lr"], t.optimizer.param_groups[0]["lr"])))
    history = trainer.run()
    assert [a for a, _ in seen] == pytest.approx([trainer.config.lr_at(s / STEPS_PER_EPOCH)
                                                  for s in range(2 * STEPS_PER_EPOCH)])
    assert seen[-1][1] == pytest.approx(seen[-1][0])     # the optimizer ran the last step at that rate
    assert seen[0][0] == 3e-3 and history[-1]["lr"] == pytest.approx(3e-3 * (1e-4 / 3e-3) ** (23 / 24))


def test_resume_can_start_a_decay_and_records_it(digits, tmp_path):
    trainer_for(digits, tmp_path / "run", epochs=2).run()
    resumed = Trainer.resume(tmp_path / "run", epochs=4,
                             schedule={"lr_schedule": "cosine", "lr_decay_start": 2, "lr_min": 1e-4})
    history = resumed.run()
    assert [r["lr"] for r in history[:2]] == [3e-3, 3e-3]
    last_step = 4 * STEPS_PER_EPOCH - 1
    assert history[2]["lr"] < 3e-3 and history[3]["lr"] == pytest.approx(resumed.lr_at(last_step))
    assert history[3]["lr"] < 1.2e-4
    saved = load_model(tmp_path / "run").checkpoint_info["train"]
    assert (saved["lr_schedule"], saved["lr_decay_start"], saved["epochs"]) == ("cosine", 2, 4)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer.resume(tmp_path / "run", schedule={"batch_size": 7})
    with pytest.raises(ConfigError, match="lr_schedule"):
        Trainer.resume(tmp_path / "run", schedule={"lr_schedule": "wobbly"})


def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(digits, tmp_path):
    out = tmp_path / "run"
    trainer = trainer_for(digits, out, epochs=5)
    good = {}
    trainer.add_callback("on_epoch_end", lambda t, rec: good.update(
        {k: v.detach().clone() for k, v in t.model.state_dict().items()}))
    # poison the encoder's output from the 16th step on (epoch 2)
    trainer.model.encoder.register_forward_hook(
        lambda module, inputs, output: output * float("nan") if trainer.step >= 15 else output)
    with pytest.raises(TrainingDiverged) as excinfo:
        trainer.run()
    message = str(excinfo.value)
    assert "loss became nan at step 16 (epoch 2)" in message
    assert f"the last good checkpoint (epoch 1, step 12) is kept in {out}" in message
    assert trainer.status == "failed" and trainer.error == message
    model = load_model(out)                      # loadable, finite, the epoch-1 weights
    assert model.checkpoint_info["state"]["epoch"] == 1
    assert model.checkpoint_info["state"]["status"] == "running"
    assert len(model.checkpoint_info["metrics"]) == 1
    for name, p in model.state_dict().items():
        assert torch.equal(p, good[name]), name


def test_nan_in_the_first_epoch_writes_nothing(digits, tmp_path):
    trainer = trainer_for(digits, tmp_path / "run", lr=1e-3, epochs=2)
    trainer.model.decoder.register_forward_hook(lambda m, i, o: o * float("inf") if trainer.step >= 2 else o)
    with pytest.raises(TrainingDiverged, match=r"at step 3 \(epoch 1\); no checkpoint was written"):
        trainer.run()
    assert not (tmp_path / "run").exists()


def test_kl_warmup_is_linear_per_step(digits):
    trainer = trainer_for(digits, epochs=3, beta=2.0, warmup=2)
    betas = []
    trainer.add_callback("on_step_end", lambda t, info: betas.append(info["beta"]))
    history = trainer.run()
    n = 2 * STEPS_PER_EPOCH
    assert betas[0] == 0.0
    assert betas[:n] == pytest.approx([2.0 * s / n for s in range(n)])
    assert betas[n:] == [2.0] * (len(betas) - n)
    assert history[0]["beta"] == pytest.approx(2.0 * (STEPS_PER_EPOCH - 1) / n)
    assert history[-1]["beta"] == 2.0


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_binarised_training_scores_a_binary_test_set(digits, mode):
    trainer = trainer_for(digits, epochs=2, binarize=mode)
    assert set(trainer.x_test.unique().tolist()) == {0.0, 1.0}
    n_levels = len(trainer.x_train.unique())
    assert n_levels == 2 if mode == "static" else n_levels > 2   # dynamic draws per epoch
    x0, _ = trainer._epoch_inputs(0)
    x1, _ = trainer._epoch_inputs(1)
    assert set(x0.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(x0, x1) == (mode == "static")   # dynamic: a fresh draw every epoch
    history = trainer.run()
    assert all(math.isfinite(r["test_loss"]) for r in history)


def test_model_and_data_must_agree(digits):
    with pytest.raises(ValueError, match=r"model takes images of shape \(1, 28, 28\).*\(1, 8, 8\)"):
        Trainer(make_model(ModelConfig()), digits, TrainConfig(device="cpu"))


# ---------------------------------------------------------------------------------------------
# TrainingJob
# ---------------------------------------------------------------------------------------------

def test_training_job_snapshots_while_running_and_finishes(digits, tmp_path):
    job = TrainingJob(SMALL, TrainConfig(epochs=4, batch_size=64, seed=2, device="cpu"), digits,
                      out_dir=tmp_path / "job", n_recon=6, n_samples=9)
    assert job.snapshot().state == "pending"
    snaps: list[JobSnapshot] = []
    errors = []

    def poll():   # another thread reads while the training thread writes
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                snaps.append(job.snapshot())
                if snaps[-1].state in ("finished", "failed"):
                    break
                time.sleep(0.002)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    reader = threading.Thread(target=poll)
    job.start()       # the state is "running" from here until the thread ends
    reader.start()
    assert job.wait(timeout=HANG_S)
    reader.join(10)
    assert not errors
    running = [s for s in snaps if s.state == "running"]
    assert running, "never saw the job running"
    steps = [s.step for s in snaps]
    assert steps == sorted(steps)

    snap = job.snapshot()
    assert snap.state == "finished" and snap.error is None
    assert snap.epoch == snap.epochs == 4
    assert snap.total_steps == snap.step == 4 * 24 and snap.progress == 1.0
    assert len(snap.epoch_history) == 4 and len(snap.step_history) == snap.step
    assert set(snap.step_history[0]) == {"step", "loss", "recon", "kl", "smooth"}
    assert snap.recon_pairs.dtype == np.uint8 and snap.recon_pairs.shape == (2, 6, 1, 8, 8)
    assert snap.samples.dtype == np.uint8 and snap.samples.shape == (9, 1, 8, 8)
    assert snap.version == 5   # initial weights + one refresh per epoch
    assert snap.checkpoint_path == str(tmp_path / "job") and snap.elapsed_s > 0
    with pytest.raises(Exception):
        snap.state = "x"   # frozen

    model = job.latest_model()
    assert not model.training and model.device.type == "cpu"
    saved = load_model(tmp_path / "job")
    for name, p in model.state_dict().items():
        assert torch.equal(p, saved.state_dict()[name])
    assert job.latest_model() is model   # cached until the next epoch
    # the originals row is the fixed test images
    assert np.array_equal(snap.recon_pairs[0, 0], digits.test.images[0].numpy())


def test_training_job_stop_and_resume(digits):
    job = TrainingJob(SMALL, TrainConfig(epochs=200, batch_size=16, device="cpu"), digits)
    job.start()
    deadline = time.time() + 30
    while job.snapshot().step < 3 and time.time() < deadline:
        time.sleep(0.01)
    job.stop()
    assert job.wait(timeout=HANG_S)
    snap = job.snapshot()
    assert snap.state == "stopped" and 3 <= snap.step < snap.total_steps
    assert snap.eta_s is None
    steps_at_stop, epoch_at_stop = snap.step, snap.epoch

    job.trainer.config.epochs = epoch_at_stop + 1  # keep the test short: finish the current epoch ...
    job.resume(extra_epochs=1)                      # ... and one more
    assert job.wait(timeout=HANG_S)
    snap = job.snapshot()
    assert snap.state == "finished" and snap.epoch == epoch_at_stop + 2 == snap.epochs
    assert snap.step > steps_at_stop
    assert [r["epoch"] for r in snap.epoch_history] == list(range(1, snap.epoch + 1))


def test_training_job_records_failure(digits):
    job = TrainingJob(ModelConfig(image_size=28, hidden=(8,)), TrainConfig(epochs=1, device="cpu"), digits)
    job.start()
    assert job.wait(timeout=HANG_S)
    snap = job.snapshot()
    assert snap.state == "failed" and "(1, 8, 8)" in snap.error
    assert job.latest_model() is None


def test_training_job_loads_the_data_its_config_names(tmp_path):
    job = TrainingJob(SMALL, TrainConfig(dataset="digits", epochs=1, batch_size=256, device="cpu"), None,
                      out_dir=tmp_path / "job")
    job.start()
    assert job.wait(timeout=HANG_S)
    snap = job.snapshot()
    assert snap.state == "finished" and snap.epoch == 1
    assert load_model(tmp_path / "job").checkpoint_info["dataset"]["name"] == "digits"


def test_a_checkpoint_without_optimizer_state_is_not_resumed(digits, tmp_path):
    trainer = Trainer(make_model(SMALL), digits, TrainConfig(epochs=1, device="cpu"), out_dir=tmp_path / "run",
                      save_optimizer=False)
    trainer.run()
    assert not (tmp_path / "run" / "optimizer.safetensors").exists()
    with pytest.raises(ValueError, match="holds no optimizer state"):
        Trainer.resume(tmp_path / "run", digits, epochs=2)


def test_training_memory_counts_adam_state_and_a_batch_of_activations():
    from vae.config import ModelConfig
    from vae.model import training_memory_bytes

    c = ModelConfig(arch="mlp", channels=1, image_size=28, latent_dim=2, hidden=(400,))
    small, big = training_memory_bytes(c, 1), training_memory_bytes(c, 1001)
    assert small > 16 * c.num_parameters()                     # weights, gradients, two Adam moments
    widths = 784 + 400 + 4 + 2 + 400 + 784
    assert big - small == 2 * 4 * 1000 * widths                # float32, kept twice, per image
    assert training_memory_bytes(c, 10, k=5) == training_memory_bytes(c, 50)
