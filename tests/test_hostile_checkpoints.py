"""Hostile checkpoints (issue 15, issue 14): bad config fields, compressed bombs, configs that imply
huge models, lying safetensors headers, weights that overflow, and saves that would destroy files.

Bombs and allocations run in a subprocess whose address space is capped (tests/hostile.py) and are
judged by the growth of its peak RSS, never by time.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
import torch

import vae
from tests.hostile import bzip2_zeros, crc_zeros, deflate_zeros, raw_zip, run_capped
from vae import checkpoint as ck
from vae.checkpoint import CheckpointError, CheckpointExistsError
from vae.config import ConfigError, ModelConfig, TrainConfig
from vae.model import VAE

SMALL = dict(image_size=8, latent_dim=2, hidden=[16])
LOAD_SETUP = "import torch\nfrom vae import checkpoint as ck\nfrom pathlib import Path\n"


@pytest.fixture
def model():
    torch.manual_seed(0)
    return VAE(ModelConfig(**SMALL))


@pytest.fixture
def saved(tmp_path, model):
    return vae.save_model(model, tmp_path / "run")


def _files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.iterdir())}


def _zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _config_bytes(**model_fields) -> bytes:
    return json.dumps({"format_version": 1, "model": {**SMALL, **model_fields}}).encode()


# ------------------------------------------------------------------------------------ config fields

@pytest.mark.parametrize("field, value", [
    ("hidden", ["a"]), ("hidden", "400"), ("hidden", [1.5]), ("hidden", [[16]]), ("hidden", [16] * 100),
    ("latent_dim", "2"), ("latent_dim", True), ("channels", None), ("image_size", 8.0),
    ("conv_channels", {"a": 1}), ("arch", 3), ("likelihood", ["bernoulli"]), ("activation", None),
    ("gaussian_sigma", "0.1"), ("gaussian_sigma", 1e400),
])
def test_every_bad_config_field_is_a_checkpoint_error_naming_it(saved, field, value):
    cfg = json.loads((saved / ck.CONFIG_FILE).read_text())
    cfg["model"][field] = value
    (saved / ck.CONFIG_FILE).write_text(json.dumps(cfg))      # 1e400 is written as Infinity
    with pytest.raises(CheckpointError, match=field if value != 1e400 else "Infinity|gaussian_sigma"):
        vae.load_model(saved)


def test_uploaded_config_with_hidden_a_names_the_field(saved):
    files = _files(saved)
    files[ck.CONFIG_FILE] = _config_bytes(hidden=["a"])
    with pytest.raises(CheckpointError, match=r"upload/config.json: model config: hidden must hold integers"):
        ck.load_checkpoint_files(files, "upload")


@pytest.mark.parametrize("fields, name", [
    ({"epochs": "5"}, "epochs"), ({"lr": float("nan")}, "lr"), ({"lr": "0.1"}, "lr"), ({"seed": 1.5}, "seed"),
    ({"extra": []}, "extra"), ({"dataset": 7}, "dataset"), ({"beta": None}, "beta"), ({"warmup": True}, "warmup"),
])
def test_bad_train_config_fields_are_config_errors_naming_them(fields, name):
    with pytest.raises(ConfigError, match=name):
        TrainConfig.from_dict(fields)


def test_config_sections_of_the_wrong_type_are_refused(saved):
    cfg = json.loads((saved / ck.CONFIG_FILE).read_text())
    cfg["dataset"] = "mnist"
    (saved / ck.CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match='"dataset" must be a JSON object'):
        vae.load_model(saved)


def test_config_parameter_count_matches_the_model():
    for cfg in (ModelConfig(**SMALL), ModelConfig(arch="conv", image_size=64, channels=3, conv_channels=(8, 8, 16, 16),
                                                  hidden=(32, 16), likelihood="gaussian", gaussian_sigma=None)):
        assert cfg.num_parameters() == VAE(cfg).num_parameters()
    with pytest.raises(ConfigError, match="parameters, over the limit"):
        ModelConfig(image_size=256, channels=3, hidden=(8192, 8192, 8192))


# ------------------------------------------------------------------------------------ compressed bombs

def _bomb_case(kind: str, files: dict[str, bytes]) -> bytes:
    """A checkpoint zip whose model.safetensors is a bomb of `kind`; config and metrics are real."""
    crc_any = 0
    members = [(ck.CONFIG_FILE, zlib.compress(files[ck.CONFIG_FILE])[2:-4], 8, len(files[ck.CONFIG_FILE]),
                zlib.crc32(files[ck.CONFIG_FILE]))]
    if kind == "bzip2":            # 600 MB of zeros in about 500 bytes, declaring 1 KB
        members.append((ck.WEIGHTS_FILE, bzip2_zeros(600 << 20), 12, 1000, crc_any))
    elif kind == "deflate-lying":  # 600 MB of zeros in about 600 KB, declaring 1 KB
        members.append((ck.WEIGHTS_FILE, deflate_zeros(600 << 20), 8, 1000, crc_any))
    elif kind == "deflate-honest":  # 500 MB declared truthfully (under the 512 MiB file limit)
        members.append((ck.WEIGHTS_FILE, deflate_zeros(500 << 20), 8, 500 << 20, crc_zeros(500 << 20)))
    return raw_zip(members)


@pytest.mark.parametrize("kind, message", [
    ("bzip2", "compressed with bzip2; only stored and deflate"),
    ("deflate-lying", "inflates to more than the 1,000 bytes it declares"),
    ("deflate-honest", "inflates more than 20 times its compressed size"),
])
def test_checkpoint_zip_bombs_are_refused_in_bounded_memory(saved, tmp_path, kind, message):
    bomb = tmp_path / f"{kind}.zip"
    bomb.write_bytes(_bomb_case(kind, _files(saved)))
    assert bomb.stat().st_size < 1 << 20
    r = run_capped(f"ck.load_checkpoint_files(ck.read_checkpoint_zip(Path({str(bomb)!r}).read_bytes(), 'up.zip'), 'up.zip')",
                   cap_mb=300, setup=LOAD_SETUP)
    assert r["error"] == "CheckpointError", r
    assert message in r["message"], r
    assert "up.zip" in r["message"]
    assert r["peak_growth_mb"] < 100, r


def test_lzma_and_encrypted_members_are_refused(saved):
    files = _files(saved)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_LZMA) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    with pytest.raises(CheckpointError, match="compressed with lzma; only stored and deflate"):
        ck.read_checkpoint_zip(buf.getvalue(), "lzma.zip")
    data = bytearray(_zip_of(files))
    data[6] |= 1                                   # the local header's "encrypted" flag
    cd = data.find(b"PK\x01\x02")
    data[cd + 8] |= 1                              # and the central directory's
    with pytest.raises(CheckpointError, match="encrypted"):
        ck.read_checkpoint_zip(bytes(data), "enc.zip")


def test_a_good_zip_still_loads(saved, model):
    loaded = ck.load_checkpoint_files(ck.read_checkpoint_zip(ck.checkpoint_zip_bytes(saved), "ok.zip"), "ok.zip")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


def test_a_zip_listing_millions_of_entries_is_refused_before_parsing_them():
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 65535, 65535, 0, 0, 0)
    with pytest.raises(CheckpointError, match="65,535 entries"):
        ck.read_checkpoint_zip(eocd, "many.zip")


# ------------------------------------------------------------------------------------ sizes before allocation

def test_a_config_implying_a_large_model_is_refused_before_building_it(tmp_path):
    """58.7 M parameters (235 MB) in the config, a 100-byte weights file: refused from the header."""
    from safetensors.torch import save as st_save

    files = {ck.CONFIG_FILE: _config_bytes(image_size=64, channels=3, hidden=[2048, 2048]),
             ck.WEIGHTS_FILE: st_save({"encoder.net.0.weight": torch.zeros(1)})}
    up = tmp_path / "big.zip"
    up.write_bytes(_zip_of(files))
    assert up.stat().st_size < 1000
    r = run_capped(f"ck.load_checkpoint_files(ck.read_checkpoint_zip(Path({str(up)!r}).read_bytes(), 'big.zip'), 'big.zip')",
                   cap_mb=150, setup=LOAD_SETUP)
    assert r["error"] == "CheckpointError", r
    assert "missing tensor" in r["message"] or "does not fit" in r["message"], r
    assert r["peak_growth_mb"] < 60, r


def test_five_million_layers_are_refused_in_bounded_memory(tmp_path, saved):
    files = _files(saved)
    files[ck.CONFIG_FILE] = json.dumps({"format_version": 1, "model": {**SMALL, "hidden": [1] * 5_000_000}}).encode()
    up = tmp_path / "deep.zip"
    up.write_bytes(_zip_of(files))
    assert up.stat().st_size < 400_000
    r = run_capped(f"ck.load_checkpoint_files(ck.read_checkpoint_zip(Path({str(up)!r}).read_bytes(), 'deep.zip'), 'deep.zip')",
                   cap_mb=200, setup=LOAD_SETUP)
    assert r["error"] == "CheckpointError", r
    assert "'config.json' declares" in r["message"], r
    assert r["peak_growth_mb"] < 60, r
    files[ck.CONFIG_FILE] = _config_bytes(hidden=[1] * 1000)       # under the size limit: the layer limit
    with pytest.raises(CheckpointError, match="hidden has 1000 entries; at most 8"):
        ck.load_checkpoint_files(files, "deep")


@pytest.mark.parametrize("edit, message", [
    (lambda raw: raw[:-4], "not a valid safetensors file"),                                  # truncated data
    (lambda raw: raw + b"\0" * 64, "belong to none"),                                        # trailing bytes
    (lambda raw: struct.pack("<Q", 1 << 40) + raw[8:], "not a valid safetensors file"),      # header length lies
])
def test_safetensors_headers_that_lie_are_refused(saved, edit, message):
    w = saved / ck.WEIGHTS_FILE
    w.write_bytes(edit(w.read_bytes()))
    with pytest.raises(CheckpointError, match=message):
        vae.load_model(saved)


def test_a_header_whose_ranges_overlap_is_refused(saved):
    raw = (saved / ck.WEIGHTS_FILE).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    names = [k for k in header if k != "__metadata__"]
    header[names[1]]["data_offsets"] = header[names[0]]["data_offsets"]
    text = json.dumps(header).encode()
    (saved / ck.WEIGHTS_FILE).write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        vae.load_model(saved)


# ------------------------------------------------------------------------------------ values

def test_weights_of_3e38_are_refused(saved, model):
    from safetensors.torch import save_file

    weights = {k: v.clone() for k, v in model.state_dict().items()}
    weights["decoder.net.0.weight"][0, 0] = 3e38
    save_file(weights, saved / ck.WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match="values up to 3e\\+38"):
        vae.load_model(saved)


def test_weights_that_overflow_when_decoding_are_refused(tmp_path):
    from safetensors.torch import save_file

    m = VAE(ModelConfig(image_size=8, latent_dim=2, hidden=[64] * 6))
    path = vae.save_model(m, tmp_path / "deep")
    save_file({k: torch.full_like(v, 9e5) for k, v in m.state_dict().items()}, path / ck.WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match="NaN or inf"):
        vae.load_model(path)


def test_a_learned_sigma_that_is_infinite_is_refused(tmp_path):
    from safetensors.torch import save_file

    m = VAE(ModelConfig(**SMALL, likelihood="gaussian", gaussian_sigma=None))
    path = vae.save_model(m, tmp_path / "g")
    weights = {k: v.clone() for k, v in m.state_dict().items()}
    weights["log_sigma"] = torch.tensor(100.0)                     # exp(100) overflows float32
    save_file(weights, path / ck.WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match="NaN or inf"):
        vae.load_model(path)


def test_a_fixed_sigma_of_infinity_is_refused(saved):
    text = (saved / ck.CONFIG_FILE).read_text().replace('"gaussian_sigma": 0.1', '"gaussian_sigma": Infinity')
    (saved / ck.CONFIG_FILE).write_text(text.replace('"likelihood": "bernoulli"', '"likelihood": "gaussian"'))
    with pytest.raises(CheckpointError, match="Infinity is not a number JSON allows"):
        vae.load_model(saved)


# ------------------------------------------------------------------------------------ saves never destroy

def test_save_refuses_a_folder_that_is_not_a_checkpoint_and_deletes_nothing(tmp_path, model):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"precious")
    (folder / "config.json").write_text('{"format_version": 1, "model": {}}')   # looks like one, is not only one
    with pytest.raises(CheckpointError, match=r"not a checkpoint of this project \(it holds holiday.jpg\)"):
        vae.save_model(model, folder, overwrite=True)
    assert (folder / "holiday.jpg").read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]           # no temp folder left
    assert ck.destination_status(folder) == "other"
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="not a folder"):
        vae.save_model(model, tmp_path / "file", overwrite=True)
    assert (tmp_path / "file").read_text() == "x"


def test_replacing_a_checkpoint_is_an_explicit_choice(tmp_path, saved, model):
    before = _files(saved)
    assert ck.destination_status(saved) == "checkpoint"
    with pytest.raises(CheckpointExistsError, match="already holds a checkpoint"):
        vae.save_model(model, saved, metrics=[{"epoch": 9}])
    assert _files(saved) == before
    vae.save_model(model, saved, metrics=[{"epoch": 9}], overwrite=True)
    assert ck.load_metrics(saved) == [{"epoch": 9}]
    assert ck.destination_status(tmp_path / "new") == "absent"
    (tmp_path / "empty").mkdir()
    assert ck.destination_status(tmp_path / "empty") == "absent"
    vae.save_model(model, tmp_path / "empty")
    (tmp_path / "link").symlink_to(saved)
    assert ck.destination_status(tmp_path / "link") == "other"


def test_a_trainer_refuses_a_foreign_out_dir_before_training(tmp_path):
    from vae.data import load_dataset
    from vae.train import Trainer, make_model

    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    ds = load_dataset("digits")
    with pytest.raises(CheckpointError, match="not a checkpoint of this project"):
        Trainer(make_model(ModelConfig(**SMALL)), ds, TrainConfig(epochs=1), out_dir=out, device="cpu", overwrite=True)
    assert (out / "thesis.tex").read_text() == "years of work"


def test_the_ui_save_asks_first(tmp_path, saved, model, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_ALLOWED_DIRS", str(tmp_path))      # /tmp is outside home and project
    from vae.ui.training.jobs import save_trained_model

    class Job:
        def latest_model(self):
            m = vae.load_model(saved)
            m.checkpoint_info["train"] = TrainConfig().to_dict()
            return m

    with pytest.raises(CheckpointExistsError):
        save_trained_model(Job(), str(saved))
    assert save_trained_model(Job(), str(saved), overwrite=True) == saved
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("a")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        save_trained_model(Job(), str(tmp_path / "docs"), overwrite=True)
    assert (tmp_path / "docs" / "a.txt").read_text() == "a"
