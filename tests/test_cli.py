"""`python -m vae train | evaluate | sample` as a user runs them (subprocesses), on the bundled digits."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from vae import load_model

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def vae_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vae", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=cwd or ROOT, timeout=300)


def vae_main(capsys, *args) -> subprocess.CompletedProcess:
    """The same command in this process (cheaper than a subprocess), as a CompletedProcess."""
    from vae.cli import main

    capsys.readouterr()
    code = main(list(map(str, args)))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def assert_clean_error(result, *phrases):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and "%|" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for phrase in phrases:
        assert phrase in lines[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "digits-run"
    result = vae_cli("train", "--dataset", "digits", "--hidden", "32", "16", "--latent-dim", "2",
                     "--epochs", "3", "--batch-size", "64", "--lr", "3e-3", "--seed", "1", "--device", "cpu",
                     "--out", out)
    assert result.returncode == 0, result.stderr
    table = result.stdout.splitlines()
    header = next(i for i, line in enumerate(table) if line.split()[:3] == ["epoch", "train", "loss"])
    rows = [line.split() for line in table[header + 1:header + 4]]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert float(rows[-1][2]) < float(rows[0][2])          # test loss went down
    assert "done: test loss" in result.stdout
    return out


def test_train_writes_a_checkpoint_with_the_recipe(run):
    model = load_model(run)
    assert model.config.hidden == (32, 16) and model.config.latent_dim == 2 and model.config.image_size == 8
    info = model.checkpoint_info
    assert info["train"]["seed"] == 1 and info["train"]["lr"] == 3e-3 and info["train"]["epochs"] == 3
    assert info["state"] == {**info["state"], "epoch": 3, "status": "finished"}
    assert len(info["metrics"]) == 3
    assert (run / "optimizer.safetensors").exists()


def test_evaluate_json_and_table(run, capsys):
    result = vae_cli("evaluate", run, "--json", "--iwae-samples", "20", "--threads", "1", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 300 and report["k"] == 20 and report["dataset"] == "digits"
    assert report["device"] == "cpu" and report["seconds"] > 0
    assert math.isfinite(report["elbo"]) and report["elbo"] < 0
    assert report["elbo"] == pytest.approx(report["recon"] - report["kl"])
    assert report["iwae"] >= report["elbo"] - 3 * report["elbo_se"]
    # close to the test loss the trainer recorded (both one-sample estimates of the same bound)
    assert -report["elbo"] == pytest.approx(load_model(run).checkpoint_info["metrics"][-1]["test_loss"], abs=1.5)

    table = vae_main(capsys, "evaluate", run)
    assert table.returncode == 0, table.stderr
    assert "ELBO" in table.stdout and "active units" in table.stdout and "nats per image" in table.stdout


def test_sample_writes_a_png_grid(run, tmp_path):
    out = tmp_path / "grid.png"
    result = vae_cli("sample", run, "--n", "9", "--out", out, "--temperature", "0.8", "--seed", "3")
    assert result.returncode == 0, result.stderr
    image = Image.open(out)
    # 3 x 3 images of 8 px scaled x4 (to >= 28 px), 2 px gaps around each
    assert image.size == (3 * 32 + 4 * 2, 3 * 32 + 4 * 2) and image.mode == "L"
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]    # no temporary file left


def test_resume_continues_the_epoch_count(run, tmp_path, capsys):
    out = tmp_path / "more"
    result = vae_main(capsys, "train", "--resume", run, "--epochs", "4", "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "resuming after epoch 3" in result.stdout
    assert [r["epoch"] for r in load_model(out).checkpoint_info["metrics"]] == [1, 2, 3, 4]
    again = vae_main(capsys, "train", "--resume", out, "--epochs", "4")
    assert_clean_error(again, "already trained 4 epochs")


def test_resume_with_a_decaying_schedule(run, tmp_path, capsys):
    out = tmp_path / "decay"
    result = vae_main(capsys, "train", "--resume", run, "--epochs", "5", "--lr-schedule", "exponential",
                      "--lr-decay-start", "3", "--lr-min", "3e-5", "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "ignoring" not in result.stderr
    info = load_model(out).checkpoint_info
    # 24 steps an epoch; each record holds the rate of its epoch's last step, decaying over 48 steps
    assert [r["lr"] for r in info["metrics"]][2:] == pytest.approx([3e-3, 3e-3 * 0.01 ** (23 / 48),
                                                                    3e-3 * 0.01 ** (47 / 48)])
    assert info["train"]["lr_schedule"] == "exponential"
    bad = vae_main(capsys, "train", "--resume", out, "--epochs", "6", "--lr-min", "1", "--lr-schedule", "cosine")
    assert_clean_error(bad, "lr_min")


def help_text(capsys, *args) -> str:
    from vae.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([*args, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_help_texts_name_every_flag(capsys):
    top = help_text(capsys)
    assert all(c in top for c in ("train", "evaluate", "sample"))
    result = vae_cli("train", "--help")
    assert result.returncode == 0
    train = " ".join(result.stdout.split())   # undo argparse's line wrapping
    for flag in ("--dataset", "--data-dir", "--arch", "--hidden", "--latent-dim", "--batch-size", "--epochs",
                 "--lr", "--seed", "--binarize", "--beta", "--warmup", "--device", "--resume", "--image-size",
                 "--likelihood", "--conv-channels", "--out", "--no-optimizer-state", "--lr-schedule", "--lr-min",
                 "--activation",
                 "--lr-decay-start"):
        assert flag in train, flag
    assert "default: 128" in train and "nats per image" in train
    assert "--iwae-samples" in help_text(capsys, "evaluate")
    assert "--temperature" in help_text(capsys, "sample")


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert_clean_error(vae_cli("train", "--dataset", "digits", "--arch", "conv", "--out", tmp_path / "c"),
                       "conv", "8x8")
    assert_clean_error(vae_main(capsys, "train", "--dataset", "no-such-set", "--out", tmp_path / "d"), "no-such-set")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    (bad / "model.safetensors").write_bytes(b"junk")
    assert_clean_error(vae_main(capsys, "evaluate", bad), "config.json", "not valid JSON")
    assert_clean_error(vae_main(capsys, "sample", tmp_path / "missing"), "no checkpoint")
    assert_clean_error(vae_main(capsys, "sample", bad, "--out", tmp_path / "x.jpg"), "--out", ".png")
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()


def test_train_refuses_to_overwrite_a_run(run, capsys):
    assert_clean_error(vae_main(capsys, "train", "--dataset", "digits", "--out", run), "already holds a checkpoint",
                       "--resume")
