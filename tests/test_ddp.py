"""Scale-out: `torchrun --nproc_per_node 2 -m vae train` with gloo on the CPU, on the bundled digits."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import torch.distributed as dist
import pytest

from vae import load_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed with gloo")
def test_torchrun_two_processes_one_epoch(tmp_path):
    out = tmp_path / "runs" / "ddp"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "vae", "train", "--dataset", "digits", "--hidden", "32", "--latent-dim", "2", "--epochs", "1",
         "--batch-size", "64", "--device", "cpu", "--seed", "5", "--out", str(out), "--quiet"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr

    # rank 0 alone logs and writes: one header, one epoch row, one "done" line, one checkpoint folder
    assert result.stdout.count("2 processes") == 1
    assert result.stdout.count("done: test loss") == 1
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["ddp"]      # no temporary folders left
    model = load_model(out)
    state = model.checkpoint_info["state"]
    assert state["world_size"] == 2 and state["status"] == "finished" and state["epoch"] == 1
    # each rank took a disjoint half of the 1497 images: 748 per rank, 12 steps of 64
    assert state["step"] == math.ceil((1497 // 2) / 64)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 1
    rec = records[0]
    for key in ("train_loss", "test_loss", "recon", "kl", "test_recon", "test_kl"):
        assert math.isfinite(rec[key]), key
    # the metrics are all-reduced over both ranks: 60 nats is an untrained 8x8 model's scale, and
    # one epoch already moves below it
    assert 20 < rec["test_loss"] < 60 and rec["train_loss"] == pytest.approx(rec["recon"] + rec["kl"])
