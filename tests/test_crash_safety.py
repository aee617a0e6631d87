"""Crash safety of checkpoints (issue 14): a process killed at any step of swapping a new checkpoint
into place leaves the previous or the new one loadable (and resumable); temporary folders of dead
writers are cleaned up; a full disk is one clear line; an exploding loss stops like a NaN.

The crash is real: a subprocess saves checkpoint v1, then saves v2 with the k-th file-system step
of the swap replaced by SIGKILL to itself, for every k until the save completes.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import vae
from tests.hostile import REPO
from tests.waits import HANG_S
from vae.safeio import atomic_dir
from vae.checkpoint import CheckpointError
from vae.config import ModelConfig, TrainConfig

CRASH_SCRIPT = r"""
import json, os, shutil, signal, sys, traceback
import torch
import torch._dynamo        # the first torch.optim.Adam of a process imports it (1 CPU s): here once, not per child
from pathlib import Path
import vae
from vae.safeio import atomic_dir
from vae.config import ModelConfig, TrainConfig
from vae.train import make_model


def scenario(path, kill_at, mode):
    # save v1, then v2 with the kill_at-th file-system step of the swap replaced by SIGKILL to itself
    model = make_model(ModelConfig(image_size=8, latent_dim=2, hidden=(16,)), seed=0)
    opt = torch.optim.Adam(model.parameters())
    train = TrainConfig(dataset="digits", epochs=3)
    vae.save_model(model, path, train_config=train, state={"epoch": 1, "step": 24}, optimizer=opt,
                   metrics=[{"epoch": 1}])
    ops = [0]

    def crashing(name, real):
        def op(*args, **kwargs):
            if ops[0] == kill_at:
                print(f"KILLED at {name}", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            ops[0] += 1
            return real(*args, **kwargs)
        return op

    if mode == "rename":                     # no renameat2: the two-rename protocol
        atomic_dir._exchange = lambda a, b: False
    atomic_dir._exchange = crashing("exchange", atomic_dir._exchange)
    atomic_dir.os.rename = crashing("rename", os.rename)
    atomic_dir.shutil.rmtree = crashing("rmtree", shutil.rmtree)
    if kill_at < 0:                          # while the new files are being written
        ops[0] = kill_at
        import vae.checkpoint as ck
        ck.os.write = crashing("write", os.write)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    vae.save_model(model, path, train_config=train, state={"epoch": 2, "step": 48}, optimizer=opt,
                   metrics=[{"epoch": 1}, {"epoch": 2}], overwrite=True)
    print("COMPLETED", flush=True)


# One import of torch for the whole sweep: each crash runs in a forked child (a real process, really killed),
# its stdout a pipe; the parent prints one JSON line per child and stops after the first save that completes.
root, mode, kill_ats = Path(sys.argv[1]), sys.argv[2], [int(k) for k in sys.argv[3].split(",")]
for kill_at in kill_ats:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.dup2(write, 1)
        sys.stdout = os.fdopen(1, "w")
        try:
            scenario(root / f"k{kill_at}" / "run", kill_at, mode)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as out:
        said = out.read()
    _, status = os.waitpid(pid, 0)
    lines = said.strip().splitlines()
    print(json.dumps({"kill_at": kill_at, "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                      "last": lines[-1] if lines else ""}), flush=True)
    if "COMPLETED" in said:
        break
"""


def _crashes(root: Path, kill_ats: list[int], mode: str) -> list[tuple[int, str]]:
    """(kill_at, outcome) for each crash tried in order, until one save completes: outcome 'completed' or
    'KILLED at <step>'. The checkpoint of kill_at k is at root / f"k{k}" / "run"."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(root), mode, ",".join(map(str, kill_ats))],
                          env=env, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    outcomes = []
    for line in proc.stdout.splitlines():
        got = json.loads(line)
        if got["last"] == "COMPLETED":
            outcomes.append((got["kill_at"], "completed"))
        else:
            assert got["signal"] == signal.SIGKILL and got["last"].startswith("KILLED"), (got, proc.stderr[-2000:])
            outcomes.append((got["kill_at"], got["last"]))
    return outcomes


@pytest.fixture(scope="module")
def rename_sweep(tmp_path_factory) -> tuple[Path, list[tuple[int, str]], Path]:
    """The two-rename protocol's crash sweep, run once: (root, crashes, a copy of its k3 folder taken before
    anything loaded it). k3 is the kill between the two renames that test_a_crash_between_the_two_renames_can_be_
    resumed resumes; loading a checkpoint repairs its folder, so that test gets the untouched copy."""
    root = tmp_path_factory.mktemp("crash-rename")
    crashes = _crashes(root, [-1, *range(10)], "rename")
    pristine = tmp_path_factory.mktemp("crash-rename-k3") / "k3"
    if (root / "k3").is_dir():
        shutil.copytree(root / "k3", pristine, symlinks=True)
    return root, crashes, pristine


@pytest.mark.parametrize("mode", ["exchange", "rename"])
def test_a_crash_at_any_step_of_the_swap_leaves_a_loadable_checkpoint(tmp_path, mode, request):
    if mode == "exchange":
        probe = tmp_path / "probe"
        (probe / "a").mkdir(parents=True)
        (probe / "b").mkdir()
        if not atomic_dir._exchange(probe / "a", probe / "b"):
            pytest.skip("renameat2(RENAME_EXCHANGE) is not supported here")
        crashes = _crashes(tmp_path, [-1, *range(10)], mode)
    else:
        tmp_path, crashes, _ = request.getfixturevalue("rename_sweep")
    seen = [outcome for _, outcome in crashes]
    for kill_at, outcome in crashes:
        path = tmp_path / f"k{kill_at}" / "run"
        model = vae.load_model(path)              # recovers a swap left half-done
        epoch = model.checkpoint_info["state"]["epoch"]
        assert epoch in (1, 2), (kill_at, outcome)
        if outcome == "completed":
            assert epoch == 2
        left = [p.name for p in path.parent.iterdir() if p.name != "run"]
        assert left == [], (kill_at, outcome, left)   # the dead writer's temporary folders are gone
    if seen[-1] != "completed":
        pytest.fail(f"the save never completed: {seen}")
    assert any("rename" in s or "exchange" in s for s in seen), seen


def test_a_crash_between_the_two_renames_can_be_resumed(rename_sweep):
    """The worst instant of the two-rename protocol: 'run' is missing. --resume must still work."""
    from vae.data import load_dataset
    from vae.train import Trainer

    _, crashes, k3 = rename_sweep
    path = k3 / "run"
    assert (3, "KILLED at rename") in crashes                   # after run -> old, before tmp -> run
    assert not path.exists()                                     # the window the issue found
    trainer = Trainer.resume(path, dataset=load_dataset("digits"), device="cpu")
    assert trainer.epoch == 1 and path.is_dir()
    trainer.run()
    assert vae.load_model(path).checkpoint_info["state"]["epoch"] == 3


def test_stale_temporary_folders_are_cleaned_only_when_dead_or_old(tmp_path):
    model = vae.VAE(ModelConfig(image_size=8, latent_dim=2, hidden=(16,)))
    path = vae.save_model(model, tmp_path / "run")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / f".run.{dead}-abc.tmp").mkdir()                  # a killed writer's
    (tmp_path / f".run.old-{dead}").mkdir()
    (tmp_path / f".run.{os.getpid()}-live.tmp").mkdir()          # a live writer's (this process)
    (tmp_path / ".run.legacy1.tmp").mkdir()                      # old-style name: only its age can tell
    (tmp_path / ".other.123.tmp").mkdir()                        # another checkpoint's: not ours to judge
    (tmp_path / "notes").mkdir()
    vae.load_model(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["run", f".run.{os.getpid()}-live.tmp", ".run.legacy1.tmp", ".other.123.tmp", "notes"])
    old = (tmp_path / ".run.legacy1.tmp")
    os.utime(old, (0, 0))
    vae.save_model(model, path, overwrite=True)
    assert not old.exists() and (tmp_path / f".run.{os.getpid()}-live.tmp").exists()


# ------------------------------------------------------------------------------------ disk full

def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_is_one_clear_line_and_the_previous_checkpoint_survives(tmp_path, monkeypatch):
    model = vae.VAE(ModelConfig(image_size=8, latent_dim=2, hidden=(16,)))
    path = vae.save_model(model, tmp_path / "run", metrics=[{"epoch": 1}])
    before = {f.name: f.read_bytes() for f in path.iterdir()}
    monkeypatch.setattr(os, "write", _disk_full)
    with pytest.raises(CheckpointError) as err:
        vae.save_model(model, path, metrics=[{"epoch": 2}], overwrite=True)
    monkeypatch.undo()
    assert str(err.value) == f"no space left on device while saving to {path}; the previous checkpoint is intact"
    assert {f.name: f.read_bytes() for f in path.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert vae.load_model(path).checkpoint_info["metrics"] == [{"epoch": 1}]


def test_disk_full_during_training_on_the_command_line_is_one_line(tmp_path, monkeypatch, capsys):
    from vae import cli

    real_write = os.write

    def full_for_checkpoints(fd, data):
        if "/.run." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_for_checkpoints)
    rc = cli.main(["train", "--dataset", "digits", "--hidden", "16", "--latent-dim", "2", "--epochs", "1",
                   "--threads", "1", "--quiet", "--device", "cpu", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert err == [f"error: no space left on device while saving to {tmp_path / 'run'}; nothing was written"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------ exploding loss

def test_an_exploding_loss_stops_like_a_nan_and_keeps_the_last_good_checkpoint(tmp_path):
    from vae.data import load_dataset
    from vae.train import Trainer, TrainingDiverged, make_model

    ds = load_dataset("digits")
    trainer = Trainer(make_model(ModelConfig(image_size=8, latent_dim=2, hidden=(64,)), seed=0), ds,
                      TrainConfig(dataset="digits", epochs=4, lr=1e-3), out_dir=tmp_path / "run", device="cpu")

    def raise_lr(t, record):        # a good first epoch, then what --lr 9.9 does
        t.config.lr = 9.9
    trainer.add_callback("on_epoch_end", raise_lr)
    with pytest.raises(TrainingDiverged, match=r"loss exploded to .* nats per image .* over 20 times the 44.36 nats"
                                               r".*last good checkpoint \(epoch 1"):
        trainer.run()
    assert trainer.status == "failed"
    kept = vae.load_model(tmp_path / "run")
    assert kept.checkpoint_info["state"]["epoch"] == 1


def test_lr_9_9_on_the_command_line_reports_divergence_not_done(tmp_path, capsys):
    from vae import cli

    rc = cli.main(["train", "--dataset", "digits", "--hidden", "64", "--latent-dim", "2", "--epochs", "3",
                   "--lr", "9.9", "--threads", "1", "--quiet", "--device", "cpu", "--out", str(tmp_path / "run")])
    out = capsys.readouterr()
    assert rc != 0 and "done" not in out.out
    assert "loss exploded" in out.err and "Try a smaller learning rate" in out.err


def test_healthy_training_is_not_called_diverged():
    from vae.data import load_dataset
    from vae.train import Trainer, make_model

    ds = load_dataset("digits")
    for lr in (1e-3, 3e-2):
        t = Trainer(make_model(ModelConfig(image_size=8, latent_dim=2, hidden=(64,)), seed=0), ds,
                    TrainConfig(dataset="digits", epochs=3, lr=lr), device="cpu")
        t.run()
        assert t.status == "finished"
