"""`python -m vae evaluate --factors` and `python -m vae sweep`, as a user runs them."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.test_cli import assert_clean_error, vae_main
from vae.analysis import factors as factor_module
from vae.analysis.factors import METRIC_KEYS

SWEEP = ["sweep", "--dataset", "digits", "--hidden", "16", "--latent-dim", "2", "--epochs", "2",
         "--batch-size", "256", "--seed", "3", "--device", "cpu", "--threads", "1", "--quiet"]


@pytest.fixture
def small_factor_protocol(monkeypatch):
    """Fewer points and votes than the real protocol, so a test takes seconds."""
    monkeypatch.setattr(factor_module, "N_POINTS", 300)     # 200 fit the predictors, 100 score them
    monkeypatch.setattr(factor_module, "FACTORVAE_VOTES", (40, 40))


def test_evaluate_factors_json_on_the_bundled_shapes_model(capsys, assets_dir, small_factor_protocol, monkeypatch):
    # the text run below scores the same seeded codes as the JSON run: its DCI is the JSON run's, looked up by the
    # exact arrays and settings it is given. What is checked here is the command (its keys, its ranges, the
    # protocol it records), not DCI (tests/test_disentanglement.py): the predictors are fitted with 3 trees a factor,
    # not the 100 the command asks for (most of the run's CPU)
    import numpy as np

    real, memo = factor_module.dci, {}

    def dci_of_the_same_codes_once(*arrays, **settings):
        key = (tuple((a.shape, a.dtype.str, a.tobytes()) for a in map(np.asarray, arrays)), repr(sorted(settings.items())))
        if key not in memo:
            memo[key] = real(*arrays, **{**settings, "n_estimators": 3})
        return memo[key]

    monkeypatch.setattr(factor_module, "dci", dci_of_the_same_codes_once)
    result = vae_main(capsys, "evaluate", assets_dir / "shapes-8d", "--factors", "--json", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    for key in METRIC_KEYS:
        assert 0.0 <= out[key] <= 1.0, key
    assert out["factor_names"] == ["shape", "scale", "rotation", "x", "y"]
    d = len(out["dim_kl"])
    assert len(out["mi_matrix"]) == d and all(len(row) == 5 for row in out["mi_matrix"])
    assert all(0 <= i < d for i in out["factor_dims"])
    assert out["factor_protocol"]["source"] == "generated" and out["factor_protocol"]["n_points"] == 300
    assert out["factor_protocol"]["dci_trees"] == 100        # the CLI's DCI is disentanglement_lib's published protocol
    assert "elbo" in out                                 # the usual evaluation is still there
    text = vae_main(capsys, "evaluate", assets_dir / "shapes-8d", "--factors", "--device", "cpu")
    assert text.returncode == 0, text.stderr
    assert f"mig                  {out['mig']:.3f}" in text.stdout          # same seed, same figures
    assert len(memo) == 1                                # ... the same codes: the DCI was computed once
    assert "I(z; factor) / H(factor)" in text.stdout


def test_python_m_vae_analysis_factors_says_which_command_prints_the_metrics(capsys, assets_dir):
    """`python -m vae.analysis.factors RUN` printed nothing (the module had no main); it names the commands
    that print the factor metrics and the per-dimension table, and exits 2."""
    assert factor_module.main([str(assets_dir / "shapes-8d")]) == 2
    err = capsys.readouterr().err
    assert "python -m vae evaluate RUN --factors" in err and "python -m vae.analysis.factor_table RUN" in err


def test_evaluate_factors_on_digits_is_a_clear_error(capsys, assets_dir):
    result = vae_main(capsys, "evaluate", assets_dir / "digits-2d", "--factors", "--json")
    assert_clean_error(result, "no ground-truth factors", "digits")
    assert result.stdout == ""


def _histories(folder: Path) -> dict[str, list[float]]:
    out = {}
    for run in sorted(p for p in folder.iterdir() if p.is_dir()):
        lines = (run / "metrics.jsonl").read_text().splitlines()
        out[run.name] = [json.loads(line)["test_loss"] for line in lines]
    return out


def test_sweep_trains_each_model_and_a_rerun_skips_them(tmp_path, capsys, one_thread):
    """In this process (vae_main: the command's own words, without a new interpreter importing torch); the
    command as a process of its own is run by test_ctrl_c_stops_a_sweep_after_the_current_step_and_saves."""
    out = tmp_path / "sweep"
    first = vae_main(capsys, *SWEEP, "--beta", "1", "4", "--out", out)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in out.iterdir()) == ["beta-1", "beta-4", "sweep.json"]
    plan = json.loads((out / "sweep.json").read_text())
    assert plan["setting"] == "beta" and plan["values"] == [1.0, 4.0]
    for name, beta in (("beta-1", 1.0), ("beta-4", 4.0)):
        config = json.loads((out / name / "config.json").read_text())
        assert config["train"]["beta"] == beta and config["train"]["seed"] == 3
        assert config["state"]["status"] == "finished" and config["state"]["epoch"] == 2
    before = _histories(out)
    second = vae_main(capsys, *SWEEP, "--beta", "1", "4", "--out", out)
    assert second.returncode == 0, second.stderr
    assert "beta-1: skipped" in second.stdout and "beta-4: skipped" in second.stdout
    assert _histories(out) == before
    # another recipe in the same folder is refused, and nothing is lost
    other = vae_main(capsys, *SWEEP, "--epochs", "3", "--beta", "1", "4", "--out", out)
    assert_clean_error(other, "holds another sweep")
    assert _histories(out) == before


def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path):
    from vae.config import ModelConfig, TrainConfig
    from vae.train.sweep import plan_sweep, run_sweep, sweep_status

    def plan(folder):
        return plan_sweep("latent_dim", [2, 3], ModelConfig(image_size=8, hidden=(16,), latent_dim=2),
                          TrainConfig(dataset="digits", epochs=2, batch_size=256, seed=5, device="cpu"), folder)

    whole = plan(tmp_path / "whole")
    run_sweep(whole)
    broken = plan(tmp_path / "broken")
    stop = threading.Event()
    seen = []

    def progress(done, total, name):
        seen.append((done, total))
        if done >= 9:            # the first model's second epoch (6 steps per epoch)
            stop.set()

    actions = run_sweep(broken, progress=progress, stop=stop)
    assert [a for _, a in actions] == ["trained"]
    assert [s for _, s, _ in sweep_status(broken)] == ["partial", "absent"]
    assert seen[-1][1] == 2 * 2 * 6 and seen[-1][0] == 9
    resumed = []
    actions = run_sweep(broken, progress=lambda done, total, name: resumed.append(done))
    assert [a for _, a in actions] == ["resumed", "trained"]
    assert resumed[0] == 9 and resumed[-1] == 24          # one bar, counted over the whole sweep
    assert _histories(tmp_path / "broken") == _histories(tmp_path / "whole")   # as if never interrupted


def test_sweep_needs_one_swept_setting(capsys, tmp_path):
    assert_clean_error(vae_main(capsys, *SWEEP, "--beta", "1", "--out", tmp_path / "s"), "exactly one")
    assert_clean_error(vae_main(capsys, *SWEEP, "--beta", "1", "2", "--latent-dim", "2", "4",
                                "--out", tmp_path / "s"), "exactly one")
    assert_clean_error(vae_main(capsys, *SWEEP, "--latent-dim", "2", "200", "--out", tmp_path / "s"), "latent_dim")
    assert not (tmp_path / "s").exists()


def test_ctrl_c_stops_a_sweep_after_the_current_step_and_saves(tmp_path):
    import signal
    import subprocess
    import sys

    from tests.test_cli import ENV, ROOT

    out = tmp_path / "sweep"
    args = [*SWEEP, "--epochs", "5000", "--beta", "1", "4", "--out", str(out)]     # far more than the test waits for
    proc = subprocess.Popen([sys.executable, "-m", "vae", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, cwd=ROOT)
    try:
        for line in proc.stdout:                           # wait for the first model to start, then Ctrl-C
            if "beta-1: training" in line:
                break
        proc.send_signal(signal.SIGINT)
        rest, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    stdout = rest
    assert proc.returncode == 0, stderr
    assert "stopped; continue with the same command" in stdout
    state = json.loads((out / "beta-1" / "config.json").read_text())["state"]
    assert state["status"] == "stopped" and state["step"] >= 1 and state["epoch"] < 5000
    assert not (out / "beta-4").exists()


def test_the_quick_factor_estimate_uses_fewer_dci_trees_than_the_published_protocol(assets_dir, monkeypatch):
    """The Factors page's quick estimate (30 trees) and its full protocol (100, as the CLI) score the same
    codes with different DCI predictors, and each records which it used."""
    from vae import load_model
    from vae.data import load_dataset
    from vae.ui.compare.factors import PRECISIONS

    calls = []
    real = factor_module.dci
    # what each asks for is recorded; the predictors are fitted with 3 trees (the counts asked for are the check)
    monkeypatch.setattr(factor_module, "dci",
                        lambda *a, **k: calls.append(k["n_estimators"]) or real(*a, **{**k, "n_estimators": 3}))
    model, data = load_model(assets_dir / "shapes-8d"), load_dataset("shapes", n_train=200, n_test=200)
    quick = factor_module.evaluate_factors(model, data, **{**PRECISIONS["quick"], "n_points": 300,
                                                           "factorvae_votes": (5, 5)})
    full = factor_module.evaluate_factors(model, data, **{**PRECISIONS["full"], "n_points": 300,
                                                          "factorvae_votes": (5, 5)})
    assert calls == [30, 100]
    assert quick["factor_protocol"]["dci_trees"] == 30 and full["factor_protocol"]["dci_trees"] == 100
