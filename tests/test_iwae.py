"""The IWAE objective (vae.objectives), the burda learning-rate schedule, and their config fields."""

from __future__ import annotations

import json
import math

import pytest
import torch

from vae import ConfigError, ModelConfig, TrainConfig, load_model
from vae.checkpoint import CheckpointError
from vae.config import burda_stage
from vae.densities import log_diag_normal, log_standard_normal
from vae.objectives import iwae_output
from vae.train import Trainer, make_model

SMALL = ModelConfig(image_size=8, hidden=(32,), latent_dim=2)
STEPS_PER_EPOCH = 12  # 1497 training digits / batch 128


pytestmark = pytest.mark.usefixtures("one_thread")


def batch(digits, n=64):
    return digits.train.images[:n].float() / 255.0


def iwae_trainer(digits, out_dir=None, **cfg) -> Trainer:
    config = TrainConfig(**{"epochs": 3, "batch_size": 128, "lr": 3e-3, "device": "cpu", "objective": "iwae",
                            "k": 5, **cfg})
    return Trainer(make_model(SMALL, seed=0), digits, config, out_dir=out_dir)


# ---- the loss --------------------------------------------------------------------------------

def test_iwae_with_one_sample_is_the_negative_elbo_on_the_same_noise(digits):
    model, x = make_model(SMALL, seed=1), batch(digits)
    elbo = model(x, generator=torch.Generator().manual_seed(7))
    one = model(x, generator=torch.Generator().manual_seed(7), k=1)
    assert torch.equal(one.z, elbo.z) and torch.equal(one.recon, elbo.recon)   # the very same eps
    # the bound's KL term is sampled: log p(x|z) + log p(z) - log q(z|x) at that z
    sampled = elbo.recon + log_standard_normal(elbo.z) - log_diag_normal(elbo.z, elbo.mu, elbo.logvar)
    torch.testing.assert_close(one.iwae, sampled, rtol=0, atol=1e-4)
    torch.testing.assert_close(one.loss, -sampled.mean(), rtol=0, atol=1e-4)
    # ... whose expectation is the analytic ELBO: average 4000 draws per image
    draws = iwae_output(model, x[:4].repeat(4000, 1, 1, 1), k=1, generator=torch.Generator().manual_seed(3))
    mc_elbo = draws.iwae.view(4000, 4).mean(0)
    exact = model(x[:4], generator=torch.Generator().manual_seed(3))
    kl_sample = (exact.recon - exact.elbo)   # analytic KL, per image
    stderr = draws.iwae.view(4000, 4).std(0) / math.sqrt(4000)
    mc_kl = (draws.recon.view(4000, 4).mean(0) - mc_elbo)
    assert ((mc_kl - kl_sample).abs() < 5 * stderr + 1e-3).all()


def test_iwae_bound_rises_with_k(digits):
    model, x = make_model(SMALL, seed=1), batch(digits, 16)
    reps = 200
    means = []
    for k in (1, 5, 50):
        out = iwae_output(model, x.repeat(reps, 1, 1, 1), k=k, generator=torch.Generator().manual_seed(k))
        means.append(out.iwae.view(reps, 16).mean().item())
    assert means[0] < means[1] < means[2]


def test_iwae_gradient_is_finite_and_lowers_the_loss(digits):
    model, x = make_model(SMALL, seed=2), batch(digits, 256)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss_at(seed):
        return model(x, generator=torch.Generator().manual_seed(seed), k=5).loss

    with torch.no_grad():
        before = loss_at(123).item()
    for step in range(20):
        opt.zero_grad()
        loss = loss_at(step)
        loss.backward()
        grads = [p.grad for p in model.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert sum(g.abs().sum() for g in grads) > 0
        opt.step()
    with torch.no_grad():
        after = loss_at(123).item()
    assert after < before - 1.0, (before, after)   # nats per image, same noise


# ---- training --------------------------------------------------------------------------------

def test_iwae_training_logs_the_bound_per_epoch(digits, tmp_path):
    history = iwae_trainer(digits, tmp_path / "run").run()
    for r in history:
        assert r["k"] == 5
        # the k-sample bound is at least as tight as the ELBO on average, and both are positive losses
        assert 0 < r["test_iwae_loss"] <= r["test_loss"] + 0.5
        assert 0 < r["train_iwae_loss"] <= r["train_loss"] + 0.5
    assert history[-1]["test_iwae_loss"] < history[0]["test_iwae_loss"]
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["test_iwae_loss"] for line in lines] == [r["test_iwae_loss"] for r in history]
    saved = load_model(tmp_path / "run").checkpoint_info["train"]
    assert (saved["objective"], saved["k"]) == ("iwae", 5)


def test_iwae_stop_then_resume_continues_exactly(digits, tmp_path):
    straight = iwae_trainer(digits)
    straight.run()
    first = iwae_trainer(digits, tmp_path / "run")
    first.add_callback("on_step_end", lambda t, info: t.stop() if info["step"] == 17 else None)
    first.run()
    assert first.status == "stopped" and first.step == 17
    resumed = Trainer.resume(tmp_path / "run")
    assert (resumed.config.objective, resumed.config.k) == ("iwae", 5)
    history = resumed.run()
    keys = ("train_loss", "test_loss", "train_iwae_loss", "test_iwae_loss", "recon", "kl")
    assert [r[k] for r in history for k in keys] == pytest.approx(
        [r[k] for r in straight.history for k in keys], rel=1e-5)
    for (name, p), q in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-6), name


def test_elbo_runs_log_no_bound(digits):
    config = TrainConfig(epochs=1, batch_size=128, device="cpu")
    record = Trainer(make_model(SMALL), digits, config).run()[0]
    assert "test_iwae_loss" not in record and "train_iwae_loss" not in record


# ---- config ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, message", [
    ({"objective": "wake-sleep"}, r"objective must be one of \('elbo', 'iwae', 'tcvae', 'factorvae'\), got 'wake-sleep'"),
    ({"objective": "iwae", "k": 0}, "k \\(importance samples per image\\) must be an integer from 1 to 5000, got 0"),
    ({"objective": "iwae", "k": 2.5}, "must be an integer"),
    ({"objective": "iwae", "k": True}, "must be an integer"),
    ({"objective": "iwae", "k": 10**6}, "from 1 to 5000"),
    ({"k": 5}, "needs objective 'iwae'"),
])
def test_objective_fields_are_validated(fields, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**fields)


def test_a_checkpoint_with_a_bad_objective_is_refused_on_resume(digits, tmp_path):
    iwae_trainer(digits, tmp_path / "run", epochs=1).run()
    path = tmp_path / "run" / "config.json"
    good = json.loads(path.read_text())
    assert TrainConfig.from_dict(good["train"]).k == 5          # the saved recipe round-trips
    for bad, message in (({"k": 0}, "k \\(importance"), ({"objective": "vimco"}, "objective must be")):
        path.write_text(json.dumps({**good, "train": {**good["train"], **bad}}))
        with pytest.raises(CheckpointError, match="training recipe is invalid: (train config: )?" + message):
            Trainer.resume(tmp_path / "run", digits, epochs=2)
    old = {k: v for k, v in good["train"].items() if k not in ("objective", "k")}   # before these fields
    assert TrainConfig.from_dict(old).objective == "elbo"


# ---- the burda schedule ----------------------------------------------------------------------

def test_burda_schedule_at_its_epoch_boundaries():
    cfg = TrainConfig(lr=1e-3, lr_schedule="burda", epochs=3280)
    starts = [0, 1, 4, 13, 40, 121, 364, 1093]                 # stage i lasts 3^i epochs
    assert [starts[i + 1] - starts[i] for i in range(7)] == [3 ** i for i in range(7)]
    assert starts[-1] + 3 ** 7 == 3280
    for i, start in enumerate(starts):
        assert burda_stage(start) == i
        assert cfg.lr_at(start) == pytest.approx(1e-3 * 10 ** (-i / 7), rel=1e-12)
        if start:
            assert cfg.lr_at(start - 1e-6) == pytest.approx(1e-3 * 10 ** (-(i - 1) / 7), rel=1e-12)
    assert cfg.lr_at(3279) == cfg.lr_at(3279.999) == pytest.approx(1e-4)   # the last epoch
    assert cfg.lr_at(5000) == pytest.approx(1e-4)                          # and beyond it
    assert TrainConfig(lr=1e-6, lr_schedule="burda").lr_at(0) == 1e-6       # lr_min plays no part


def test_burda_schedule_per_step_in_the_trainer(digits):
    config = TrainConfig(epochs=5, batch_size=128, lr=3e-3, lr_schedule="burda", device="cpu")
    trainer = Trainer(make_model(SMALL), digits, config)
    seen = []
    trainer.add_callback("on_step_end", lambda t, info: seen.append(t.optimizer.param_groups[0]["lr"]))
    history = trainer.run()
    expected = [3e-3] * 12 + [3e-3 * 10 ** (-1 / 7)] * 36 + [3e-3 * 10 ** (-2 / 7)] * 12
    assert seen == pytest.approx(expected)
    assert [r["lr"] for r in history] == pytest.approx([3e-3] + [3e-3 * 10 ** (-1 / 7)] * 3 + [3e-3 * 10 ** (-2 / 7)])


def test_a_resumed_run_can_switch_to_burda_from_an_epoch(digits, tmp_path):
    config = TrainConfig(epochs=2, batch_size=128, lr=3e-3, device="cpu")
    Trainer(make_model(SMALL), digits, config, out_dir=tmp_path / "run").run()
    resumed = Trainer.resume(tmp_path / "run", epochs=4, schedule={"lr_schedule": "burda", "lr_decay_start": 2})
    history = resumed.run()
    assert [r["lr"] for r in history] == pytest.approx([3e-3, 3e-3, 3e-3, 3e-3 * 10 ** (-1 / 7)])


# ---- the command line ------------------------------------------------------------------------

def test_cli_trains_iwae_and_refuses_a_bad_k(tmp_path, capsys):
    from tests.test_cli import vae_main

    base = ["train", "--dataset", "digits", "--hidden", "16", "--latent-dim", "2", "--epochs", "1",
            "--device", "cpu", "--quiet"]
    result = vae_main(capsys, *base, "--objective", "iwae", "--out", tmp_path / "a")
    assert result.returncode == 0, result.stderr
    saved = load_model(tmp_path / "a").checkpoint_info
    assert (saved["train"]["objective"], saved["train"]["k"]) == ("iwae", 5)     # --k defaults to 5 with iwae
    assert "test_iwae_loss" in saved["metrics"][0]
    result = vae_main(capsys, *base, "--objective", "iwae", "--k", "0", "--out", tmp_path / "b")
    assert result.returncode == 2 and result.stderr.strip().startswith("error: k (importance samples")
    result = vae_main(capsys, *base, "--k", "50", "--out", tmp_path / "c")
    assert result.returncode == 2 and "needs objective 'iwae'" in result.stderr
    result = vae_main(capsys, *base, "--lr-schedule", "burda", "--out", tmp_path / "d")
    assert result.returncode == 0 and load_model(tmp_path / "d").checkpoint_info["train"]["lr_schedule"] == "burda"
