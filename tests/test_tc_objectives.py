"""beta-TCVAE and FactorVAE (issue 25): the MWS decomposition and its identity, the objective against
the ELBO, the discriminator learning on correlated codes, training from the library and the CLI, an exact
resume with the discriminator, sweeps over the objective, old checkpoints and sweeps, clear errors."""

from __future__ import annotations

import json
import math

import pytest
import torch

from vae import ConfigError, ModelConfig, TrainConfig, load_model
from vae.objectives import iwae_output
from vae.objectives_tc import mws_decomposition, tcvae_output
from vae.train import Trainer, TrainingDiverged, make_model
from vae.train.discriminator import FactorDiscriminator, permute_dims

SMALL = ModelConfig(image_size=8, hidden=(32,), latent_dim=3)

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")]


def trainer_for(digits, out_dir=None, seed=0, **cfg) -> Trainer:
    config = TrainConfig(**{"epochs": 2, "batch_size": 128, "lr": 3e-3, "seed": seed, "device": "cpu", **cfg})
    return Trainer(make_model(SMALL, seed=seed), digits, config, out_dir=out_dir)


def a_batch(digits, n=64):
    return digits.train.images[:n].float() / 255


# ---- beta-TCVAE ---------------------------------------------------------------------------------

def test_mws_terms_sum_to_the_sampled_kl_exactly():
    """MI + TC + dimension-wise KL == log q(z|x) - log p(z), per image, whatever N (the identity)."""
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(50, 6, generator=g, dtype=torch.float64)
    logvar = torch.randn(50, 6, generator=g, dtype=torch.float64) - 1
    z = mu + torch.exp(0.5 * logvar) * torch.randn(50, 6, generator=g, dtype=torch.float64)
    for n in (50, 1000, 60000):
        t = mws_decomposition(z, mu, logvar, n)
        total = t["mi"] + t["tc"] + t["dim_kl"]
        assert torch.allclose(total, t["log_qz_x"] - t["log_pz"], rtol=0, atol=1e-10)
        assert t["mi"].shape == t["tc"].shape == t["dim_kl"].shape == (50,)
    # the MWS TC grows when the dimensions of q(z) depend on each other
    mu_corr = mu.clone()
    mu_corr[:, 1] = mu_corr[:, 0]
    mu_corr[:, 2] = -mu_corr[:, 0]
    small_var = torch.full_like(logvar, -4.0)
    z_ind = mu + torch.exp(0.5 * small_var) * 0
    z_corr = mu_corr + torch.exp(0.5 * small_var) * 0
    assert mws_decomposition(z_corr, mu_corr, small_var, 50)["tc"].mean() > \
        mws_decomposition(z_ind, mu, small_var, 50)["tc"].mean()


def test_mws_offsets_by_log_n_where_every_posterior_is_the_prior():
    """The estimator's definition: where q(z|x) = p(z) for every x (true MI = TC = dim-KL = 0), MWS gives
    MI = log N, TC = (D - 1) log N and dim-KL = -D log N: constants that sum to the exact KL (0) and
    carry no gradient, so the logged `train_tc` of a tcvae run sits about (D - 1) log N above the TC."""
    D, B, N = 5, 64, 20000
    z = torch.randn(B, D, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    zeros = torch.zeros(B, D, dtype=torch.float64)
    t = mws_decomposition(z, zeros, zeros, N)
    assert torch.allclose(t["mi"], torch.full((B,), math.log(N), dtype=torch.float64))
    assert torch.allclose(t["tc"], torch.full((B,), (D - 1) * math.log(N), dtype=torch.float64))
    assert torch.allclose(t["dim_kl"], torch.full((B,), -D * math.log(N), dtype=torch.float64))


def test_tcvae_with_beta_1_is_the_elbo_on_a_batch(digits):
    """beta = 1 (alpha = gamma = 1): the loss is -mean[log p(x|z) - (MI + TC + dimKL)], which is minus the
    one-sample ELBO with a sampled KL term: the IWAE bound with k = 1 on the same noise."""
    model = make_model(SMALL, seed=1)
    x = a_batch(digits)
    out = tcvae_output(model, x, dataset_size=len(digits.train), tc_weight=1.0,
                       generator=torch.Generator().manual_seed(5))
    expected = -(out.recon - (out.mi + out.tc + out.dim_kl)).mean()
    assert float(out.loss) == pytest.approx(float(expected), rel=1e-6)
    iw = iwae_output(model, x, k=1, generator=torch.Generator().manual_seed(5))
    assert float(out.loss) == pytest.approx(float(iw.loss), rel=1e-5)
    assert torch.allclose(out.recon, iw.recon, atol=1e-4)
    # beta weighs the total correlation alone
    six = tcvae_output(model, x, dataset_size=len(digits.train), tc_weight=6.0,
                       generator=torch.Generator().manual_seed(5))
    assert float(six.loss) == pytest.approx(float(-(out.recon - out.mi - 6 * out.tc - out.dim_kl).mean()), rel=1e-5)
    # through VAE.forward, as the trainer calls it
    fwd = model(x, generator=torch.Generator().manual_seed(5),
                tcvae={"dataset_size": len(digits.train), "tc_weight": 1.0})
    assert float(fwd.loss) == pytest.approx(float(out.loss), rel=1e-6)


def test_tcvae_needs_the_dataset_size(digits):
    model = make_model(SMALL)
    with pytest.raises(ValueError, match="needs the data set's size N"):
        tcvae_output(model, a_batch(digits))
    with pytest.raises(ValueError, match="no smaller than the batch"):
        tcvae_output(model, a_batch(digits, 64), dataset_size=10)


# ---- FactorVAE's discriminator --------------------------------------------------------------------

def correlated_codes(g, n=256):
    z = torch.randn(n, 4, generator=g)
    z[:, 1] = z[:, 0] + 0.05 * torch.randn(n, generator=g)      # z2 = z1 + small noise
    return z


def test_permute_dims_shuffles_each_column_on_its_own():
    z = torch.arange(40.0).view(10, 4)
    p = permute_dims(z, torch.Generator().manual_seed(0))
    for d in range(4):
        assert sorted(p[:, d].tolist()) == z[:, d].tolist()
    assert not torch.equal(p, z)


def test_discriminator_loss_falls_on_correlated_codes():
    g = torch.Generator().manual_seed(0)
    disc = FactorDiscriminator(latent_dim=4, hidden=(64, 64), lr=1e-3, seed=0)
    losses = [float(disc.update(correlated_codes(g), g)) for _ in range(150)]
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert first == pytest.approx(math.log(2), abs=0.05)       # chance at the start
    assert last < first - 0.15, (first, last)
    tc = disc.penalty(correlated_codes(g)).mean()
    assert float(tc) > 0.5                                       # it sees the dependence: TC > 0 nats
    # independent codes give it nothing to learn
    ind = FactorDiscriminator(latent_dim=4, hidden=(64, 64), lr=1e-3, seed=0)
    ind_losses = [float(ind.update(torch.randn(256, 4, generator=g), g)) for _ in range(150)]
    assert sum(ind_losses[-10:]) / 10 > last + 0.1


# ---- training --------------------------------------------------------------------------------------

@pytest.mark.parametrize("objective, extra", [("tcvae", {"beta": 6.0}), ("factorvae", {"gamma": 10.0})])
def test_training_with_each_objective(digits, tmp_path, objective, extra):
    trainer = trainer_for(digits, tmp_path / "run", objective=objective, **extra,
                          **({"disc_hidden": (32, 32)} if objective == "factorvae" else {}))
    history = trainer.run()
    assert trainer.status == "finished" and len(history) == 2
    assert history[-1]["test_loss"] < history[0]["test_loss"] + 1
    for r in history:
        assert math.isfinite(r["train_tc"]) and r["train_loss"] == pytest.approx(r["recon"] + r["kl"], rel=1e-6)
    if objective == "factorvae":
        assert 0 < history[-1]["disc_loss"] < 1.5 and history[-1]["gamma"] == 10.0
        assert (tmp_path / "run" / "trainer_state.safetensors").is_file()
    model = load_model(tmp_path / "run")
    recorded = TrainConfig.from_dict(model.checkpoint_info["train"])
    assert recorded.objective == objective and recorded == trainer.config


def test_factorvae_stopped_and_resumed_continues_exactly(digits, tmp_path):
    """Stopped mid-epoch 2 and resumed from disk == never stopped: VAE, Adam, and the discriminator."""
    cfg = {"epochs": 3, "objective": "factorvae", "gamma": 6.0, "disc_hidden": (32, 32), "disc_lr": 1e-3}
    straight = trainer_for(digits, **cfg)
    straight.run()

    first = trainer_for(digits, tmp_path / "run", **cfg)
    first.add_callback("on_step_end", lambda t, info: t.stop() if info["step"] == 17 else None)
    first.run()
    assert first.status == "stopped" and first.step == 17
    saved_disc = {k: v.clone() for k, v in first.terms.disc.net.state_dict().items()}

    resumed = Trainer.resume(tmp_path / "run")
    assert (resumed.epoch, resumed.step, resumed.batch) == (1, 17, 5)
    for k, v in resumed.terms.disc.net.state_dict().items():
        assert torch.equal(v, saved_disc[k]), k
    adam = resumed.terms.disc.optimizer.state_dict()
    assert adam["state"] and tuple(adam["param_groups"][0]["betas"]) == (0.5, 0.9)
    history = resumed.run()
    assert resumed.status == "finished"

    keys = ("train_loss", "test_loss", "recon", "kl", "train_tc", "disc_loss")
    assert [r[k] for r in history for k in keys] == pytest.approx(
        [r[k] for r in straight.history for k in keys], rel=1e-5, abs=1e-6)
    for (name, p), q in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-6), name
    for (name, p), q in zip(straight.terms.disc.net.state_dict().items(),
                            resumed.terms.disc.net.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-6), name
    # a run with another discriminator does not silently take this one's state
    other = json.loads((tmp_path / "run" / "config.json").read_text())
    other["train"]["disc_hidden"] = [16]
    (tmp_path / "run" / "config.json").write_text(json.dumps(other))
    with pytest.raises(ValueError, match="does not fit"):
        Trainer.resume(tmp_path / "run")


def test_an_old_checkpoint_without_the_new_fields_loads_and_resumes(digits, tmp_path):
    trainer_for(digits, tmp_path / "run", epochs=1).run()
    path = tmp_path / "run" / "config.json"
    config = json.loads(path.read_text())
    for key in ("gamma", "disc_hidden", "disc_lr"):
        del config["train"][key]
    for key in ("tc_sum", "disc_sum"):
        config["state"]["partial"].pop(key, None)
    path.write_text(json.dumps(config))
    model = load_model(tmp_path / "run")
    assert TrainConfig.from_dict(model.checkpoint_info["train"]).objective == "elbo"
    resumed = Trainer.resume(tmp_path / "run", epochs=2)
    assert len(resumed.run()) == 2


def test_a_nan_in_the_discriminator_stops_training_like_any_divergence(digits, tmp_path):
    trainer = trainer_for(digits, tmp_path / "run", objective="factorvae", disc_hidden=(16,))
    with torch.no_grad():
        for p in trainer.terms.disc.net.parameters():
            p.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="loss became nan at step 1"):
        trainer.run()
    assert trainer.status == "failed"


@pytest.mark.parametrize("fields, message", [
    ({"objective": "tcvae", "k": 5}, "needs objective 'iwae'"),
    ({"objective": "factorvae", "batch_size": 2}, "batch_size >= 4"),
    ({"gamma": -1.0}, "gamma"),
    ({"gamma": float("nan")}, "gamma must be a finite number"),
    ({"disc_hidden": []}, "at least one hidden layer"),
    ({"disc_hidden": [0]}, "disc_hidden must hold integers"),
    ({"disc_lr": 0.0}, "disc_lr"),
])
def test_bad_settings_are_refused_with_a_message(fields, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**fields)


# ---- the CLI ---------------------------------------------------------------------------------------

def test_the_cli_trains_each_objective(tmp_path, capsys):
    from vae.cli import main

    base = ["train", "--dataset", "digits", "--hidden", "16", "--latent-dim", "2", "--epochs", "1", "--quiet"]
    assert main([*base, "--objective", "tcvae", "--beta", "6", "--out", str(tmp_path / "tc")]) == 0
    assert main([*base, "--objective", "factorvae", "--gamma", "20", "--disc-hidden", "32", "32",
                 "--disc-lr", "0.0003", "--out", str(tmp_path / "fv")]) == 0
    tc = json.loads((tmp_path / "tc" / "config.json").read_text())["train"]
    fv = json.loads((tmp_path / "fv" / "config.json").read_text())["train"]
    assert (tc["objective"], tc["beta"]) == ("tcvae", 6.0)
    assert (fv["objective"], fv["gamma"], fv["disc_hidden"], fv["disc_lr"]) == ("factorvae", 20.0, [32, 32], 3e-4)
    # continued from the CLI
    assert main(["train", "--resume", str(tmp_path / "fv"), "--epochs", "2", "--quiet"]) == 0
    assert len(load_model(tmp_path / "fv").checkpoint_info["metrics"]) == 2
    capsys.readouterr()
    assert main([*base, "--gamma", "5", "--out", str(tmp_path / "bad")]) != 0
    assert "--gamma configure FactorVAE's discriminator: pass --objective factorvae" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_the_recipe_command_parses_back_for_the_new_objectives():
    import shlex

    from vae.cli import _model_config_from_args, _train_config_from_args, build_parser
    from vae.train.recipe import train_command

    for tc in (TrainConfig(objective="tcvae", beta=6.0),
               TrainConfig(objective="factorvae", gamma=35.0, disc_hidden=(1000, 1000), disc_lr=3e-4)):
        args = build_parser().parse_args(shlex.split(train_command(SMALL, tc, out="runs/x"))[3:])
        assert _train_config_from_args(args) == tc
        assert _model_config_from_args(args, SMALL.image_shape) == SMALL


# ---- sweeps ----------------------------------------------------------------------------------------

def test_a_sweep_varies_the_objective_and_each_checkpoint_records_it(digits, tmp_path):
    from vae.analysis.compare import load_sweep_summary
    from vae.train.sweep import plan_sweep, run_sweep

    tc = TrainConfig(epochs=1, batch_size=256, beta=4.0, device="cpu", disc_hidden=(16,))
    plan = plan_sweep("objective", ["elbo", "tcvae", "factorvae"], SMALL, tc, tmp_path / "sweep")
    assert [r.folder.name for r in plan.runs] == ["objective-elbo", "objective-tcvae", "objective-factorvae"]
    actions = run_sweep(plan, dataset=digits, device="cpu")
    assert [a for _, a in actions] == ["trained"] * 3
    for run in plan.runs:
        recorded = load_model(run.folder).checkpoint_info["train"]
        assert recorded["objective"] == run.value and recorded["beta"] == 4.0
    summary = load_sweep_summary(tmp_path / "sweep")
    assert summary.setting == "objective" and summary.values == ["elbo", "tcvae", "factorvae"]
    assert summary.label == "objective"
    # run again: all finished, skipped; another recipe in the same folder is refused
    assert [a for _, a in run_sweep(plan, dataset=digits, device="cpu")] == ["skipped"] * 3
    from vae.sweep_format import SweepError
    other = plan_sweep("objective", ["elbo", "tcvae", "factorvae"], SMALL, TrainConfig(
        epochs=1, batch_size=256, beta=4.0, device="cpu", disc_hidden=(16,), gamma=3.0), tmp_path / "sweep")
    with pytest.raises(SweepError, match="train differs"):
        run_sweep(other, dataset=digits, device="cpu")


def test_an_old_beta_sweep_folder_still_matches_its_plan(digits, tmp_path):
    from vae.train.sweep import plan_sweep, run_sweep

    tc = TrainConfig(epochs=1, batch_size=512, device="cpu")
    plan = plan_sweep("beta", [1, 2], SMALL, tc, tmp_path / "sweep")
    run_sweep(plan, dataset=digits, device="cpu")
    path = tmp_path / "sweep" / "sweep.json"
    old = json.loads(path.read_text())
    for key in ("gamma", "disc_hidden", "disc_lr"):
        old["train"].pop(key)
    path.write_text(json.dumps(old))
    assert [a for _, a in run_sweep(plan, dataset=digits, device="cpu")] == ["skipped", "skipped"]


def test_the_cli_sweeps_objectives(tmp_path, capsys):
    from vae.cli import main

    argv = ["sweep", "--dataset", "digits", "--hidden", "16", "--latent-dim", "2", "--epochs", "1",
            "--batch-size", "512", "--objective", "elbo", "factorvae", "--gamma", "5", "--disc-hidden", "16",
            "--out", str(tmp_path / "s"), "--quiet"]
    assert main(argv) == 0
    assert json.loads((tmp_path / "s" / "sweep.json").read_text())["values"] == ["elbo", "factorvae"]
    fv = load_model(tmp_path / "s" / "objective-factorvae").checkpoint_info["train"]
    assert (fv["objective"], fv["gamma"], fv["disc_hidden"]) == ("factorvae", 5.0, [16])
    capsys.readouterr()
    assert main(["sweep", "--dataset", "digits", "--objective", "elbo", "nope", "--out", str(tmp_path / "t")]) == 2
    assert "objectives must be among" in capsys.readouterr().err and not (tmp_path / "t").exists()
    assert main(["sweep", "--dataset", "digits", "--objective", "tcvae:beta=6", "--beta", "1", "4",
                 "--out", str(tmp_path / "t")]) == 2
    assert "options in an objective's value are for a sweep of objectives" in capsys.readouterr().err


def test_a_sweep_of_objectives_gives_each_its_own_weight(tmp_path):
    """beta-VAE at beta 8, beta-TCVAE at 6 and FactorVAE at KL weight 1 with gamma 20 in one sweep: the
    options of a value ("tcvae:beta=6") override the shared recipe for that run alone."""
    from vae.sweep_format import SweepError, parse_objective_value
    from vae.train.sweep import plan_sweep

    tc = TrainConfig(epochs=1, batch_size=256, device="cpu", disc_lr=1e-4)
    values = ["elbo", "elbo:beta=8", "tcvae:beta=6", "factorvae:gamma=20,disc_lr=1e-3"]
    plan = plan_sweep("objective", values, SMALL, tc, tmp_path / "sweep")
    assert [r.folder.name for r in plan.runs] == ["objective-elbo", "objective-elbo-beta-8", "objective-tcvae-beta-6",
                                                 "objective-factorvae-gamma-20-disc_lr-1e-3"]
    got = [(r.train_config.objective, r.train_config.beta, r.train_config.gamma, r.train_config.disc_lr)
           for r in plan.runs]
    assert got == [("elbo", 1.0, 10.0, 1e-4), ("elbo", 8.0, 10.0, 1e-4), ("tcvae", 6.0, 10.0, 1e-4),
                   ("factorvae", 1.0, 20.0, 1e-3)]
    assert plan.to_dict()["values"] == values and plan.to_dict()["train"]["beta"] == 1.0
    assert parse_objective_value("iwae:k=50") == ("iwae", {"k": 50})
    for bad, message in (("tcvae:lr=1", "OPTION one of beta, gamma, k, disc_lr"), ("tcvae:beta", "NAME:OPTION=VALUE"),
                         ("tcvae:beta=six", "beta must be a number"), ("vimco:beta=2", "objectives must be among")):
        with pytest.raises(SweepError, match=message):
            plan_sweep("objective", ["elbo", bad], SMALL, tc, tmp_path / "bad")
    with pytest.raises(SweepError, match="gamma"):            # the run's own config is checked too
        plan_sweep("objective", ["elbo", "factorvae:gamma=-1"], SMALL, tc, tmp_path / "bad")


def test_the_compare_page_draws_a_sweep_over_objectives(tmp_path):
    """Swept values that are names, not numbers: one category per objective on the x axis, names in labels."""
    pytest.importorskip("streamlit")
    from vae.analysis.compare import SweepSummary
    from vae.ui.compare.models import (elbo_figure, metrics_figure, rate_distortion_caption, rate_distortion_figure,
                                       sweep_table)

    values = ["elbo", "tcvae", "factorvae"]
    summaries = [{"elbo": -50.0 - i, "recon": -40.0, "kl": 10.0 - i, "iwae": None, "active_units": 5 - i,
                  "mig": 0.1 * i, "dci_disentanglement": 0.05 * i} for i in range(3)]
    sweep = SweepSummary(tmp_path, "objective", values, [f"objective-{v}" for v in values], summaries)
    assert rate_distortion_figure(sweep).data[0].text == tuple(f"objective = {v}" for v in values)
    assert rate_distortion_figure(sweep).data[0].mode == "markers+text"     # no line: objectives have no order
    axis = metrics_figure(sweep).layout.xaxis
    assert axis.type == "category" and list(axis.categoryarray) == values
    assert elbo_figure(sweep).layout.xaxis.type == "category"
    assert sweep_table(sweep)["objective"] == values
    # no line joins the objectives in any chart (they drew one from elbo to tcvae to factorvae, as if a trend)
    for fig in (metrics_figure(sweep), elbo_figure(sweep)):
        assert {trace.mode for trace in fig.data} == {"markers"}
    assert "beta" not in rate_distortion_caption(sweep).split(";")[1].split("(")[0]
    numbers = SweepSummary(tmp_path, "beta", [1, 4, 16], [f"beta-{v}" for v in (1, 4, 16)], summaries)
    for fig in (metrics_figure(numbers), elbo_figure(numbers)):
        assert {trace.mode for trace in fig.data} == {"lines+markers"}
    assert rate_distortion_figure(numbers).data[0].mode == "lines+markers+text"
    assert "a larger beta" in rate_distortion_caption(numbers)
