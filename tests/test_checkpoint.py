"""Checkpoints: exact round trip, atomic writes, and a specific error for every kind of bad file."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path

import pytest
import torch

import vae
from vae import checkpoint as ck
from vae.checkpoint import CheckpointError


@pytest.fixture
def model() -> vae.VAE:
    torch.manual_seed(0)
    return vae.VAE(vae.ModelConfig(image_size=8, latent_dim=3, hidden=(16,)))


@pytest.fixture
def saved(tmp_path, model) -> Path:
    return vae.save_model(model, tmp_path / "run", train_config=vae.TrainConfig(epochs=2),
                          metrics=[{"epoch": 1, "train_loss": 50.0, "test_loss": 51.0}],
                          state={"epoch": 1}, dataset={"name": "digits"})


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_round_trip_is_exact(saved, model):
    loaded = vae.load_model(saved)
    assert loaded.config == model.config
    assert _same_weights(loaded, model)
    assert not loaded.training
    assert loaded.checkpoint_info["metrics"][0]["test_loss"] == 51.0
    assert loaded.checkpoint_info["dataset"] == {"name": "digits"}
    assert loaded.checkpoint_info["train"]["epochs"] == 2
    x = torch.rand(2, 1, 8, 8)
    with torch.inference_mode():
        assert torch.equal(loaded.decode(loaded.encode(x)[0]), model.eval().decode(model.encode(x)[0]))


def test_round_trip_through_zip(saved, model, tmp_path):
    data = ck.checkpoint_zip_bytes(saved)
    assert _same_weights(ck.load_checkpoint_files(ck.read_checkpoint_zip(data)), model)
    # a zip of the folder itself (one top-level directory) loads too
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in saved.iterdir():
            zf.write(f, f"run/{f.name}")
    zpath = tmp_path / "run.zip"
    zpath.write_bytes(buf.getvalue())
    assert _same_weights(vae.load_model(zpath), model)


def test_gaussian_learned_sigma_and_conv_round_trip(tmp_path):
    m = vae.VAE(vae.ModelConfig(arch="conv", image_size=32, channels=3, latent_dim=4, hidden=(32,),
                                conv_channels=(8, 16), likelihood="gaussian", gaussian_sigma=None))
    with torch.no_grad():
        m.log_sigma.fill_(-1.5)
    loaded = vae.load_model(vae.save_model(m, tmp_path / "c"))
    assert _same_weights(loaded, m) and loaded.log_sigma.item() == pytest.approx(-1.5)


def test_optimizer_state_round_trip(tmp_path, model):
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    for _ in range(3):
        opt.zero_grad()
        model(torch.rand(4, 1, 8, 8)).loss.backward()
        opt.step()
    path = vae.save_model(model, tmp_path / "r", optimizer=opt)
    fresh = vae.load_model(path)
    opt2 = torch.optim.Adam(fresh.parameters(), lr=1.0)
    assert ck.load_optimizer_state(path, opt2)
    assert opt2.param_groups[0]["lr"] == 3e-4
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for pid in s1:
        for k in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(torch.as_tensor(s1[pid][k]), torch.as_tensor(s2[pid][k]))


def test_save_over_existing_is_atomic_and_leaves_no_temp(saved, model, monkeypatch):
    before = {f.name: f.read_bytes() for f in saved.iterdir()}

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ck, "save_safetensors_bytes", broken)
    with pytest.raises(CheckpointError, match="disk full; the previous checkpoint is intact"):
        vae.save_model(model, saved, overwrite=True)
    assert {f.name: f.read_bytes() for f in saved.iterdir()} == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]   # no temp folders left behind
    monkeypatch.undo()
    vae.save_model(model, saved, metrics=[], overwrite=True)
    assert ck.load_metrics(saved) == []
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


class _Payload:
    """Unpickling this creates a marker file: proof that a loader ran code from the file."""

    marker: str = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("how", ["pickle", "torch_save"])
def test_hostile_pickle_is_refused_and_runs_nothing(saved, tmp_path, how):
    marker = tmp_path / "pwned"
    _Payload.marker = str(marker)
    target = saved / ck.WEIGHTS_FILE
    if how == "pickle":
        target.write_bytes(pickle.dumps(_Payload()))
    else:
        buf = io.BytesIO()
        torch.save({"encoder.net.0.weight": _Payload()}, buf)
        target.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="pickle"):
        vae.load_model(saved)
    assert not marker.exists()


def _edit_config(path: Path, fn) -> None:
    cfg = json.loads((path / ck.CONFIG_FILE).read_text())
    fn(cfg)
    (path / ck.CONFIG_FILE).write_text(json.dumps(cfg))


@pytest.mark.parametrize("corrupt, message", [
    (lambda p: (p / ck.CONFIG_FILE).unlink(), "has no config.json"),
    (lambda p: (p / ck.WEIGHTS_FILE).unlink(), "has no model.safetensors"),
    (lambda p: (p / ck.CONFIG_FILE).write_text("{not json"), "not valid JSON"),
    (lambda p: (p / ck.CONFIG_FILE).write_text("[1, 2]"), "JSON object"),
    (lambda p: _edit_config(p, lambda c: c.update(format_version=99)), "format_version 99"),
    (lambda p: _edit_config(p, lambda c: c.pop("model")), "no \"model\" section"),
    (lambda p: _edit_config(p, lambda c: c["model"].update(colour="red")), r"unknown field\(s\) \['colour'\]"),
    (lambda p: _edit_config(p, lambda c: c["model"].update(latent_dim=500)), "latent_dim must be"),
    (lambda p: _edit_config(p, lambda c: c["model"].update(arch="conv", image_size=8)), "conv architecture takes"),
    (lambda p: _edit_config(p, lambda c: c["model"].update(latent_dim=4)), r"'encoder.net.2.weight' has shape \(6, 16\)"),
    (lambda p: _edit_config(p, lambda c: c["model"].update(hidden=[16, 16])), "missing tensor"),
    (lambda p: (p / ck.WEIGHTS_FILE).write_bytes((p / ck.WEIGHTS_FILE).read_bytes()[:100]), "not a valid safetensors"),
    (lambda p: (p / ck.WEIGHTS_FILE).write_bytes(b""), "not a valid safetensors"),
    (lambda p: (p / ck.WEIGHTS_FILE).write_bytes(struct.pack("<Q", 2**60) + b"{}"), "not a valid safetensors"),
])
def test_bad_checkpoints_get_specific_errors(saved, corrupt, message):
    corrupt(saved)
    with pytest.raises(CheckpointError, match=message):
        vae.load_model(saved)


def test_nan_and_wrong_dtype_tensors_are_refused(saved, model):
    from safetensors.torch import save_file

    weights = {k: v.clone() for k, v in model.state_dict().items()}
    weights["decoder.net.0.bias"][0] = float("nan")
    save_file(weights, saved / ck.WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match="'decoder.net.0.bias' contains NaN"):
        vae.load_model(saved)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    weights["decoder.net.0.bias"] = weights["decoder.net.0.bias"].to(torch.int32)
    save_file(weights, saved / ck.WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match="dtype torch.int32"):
        vae.load_model(saved)


def test_extra_tensor_is_refused(saved, model):
    from safetensors.torch import save_file

    weights = dict(model.state_dict(), sneaky=torch.zeros(1))
    save_file(weights, saved / ck.WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match=r"unexpected tensor\(s\) \['sneaky'\]"):
        vae.load_model(saved)


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="neither a folder nor a zip"):
        vae.load_model(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a zip file"):
        vae.load_model(tmp_path / "notes.txt")
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(CheckpointError, match="has no config.json"):
        ck.load_checkpoint_files(ck.read_checkpoint_zip(empty.getvalue(), "upload.zip"), "upload.zip")
