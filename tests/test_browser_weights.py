"""vae.browser_weights: a checkpoint's decoder for the browser from NumPy, byte for byte the torch export,
and without importing torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vae.browser_weights import export_decoder_binary_numpy, read_numpy_checkpoint

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "assets"
MLP_MODELS = sorted(p.name for p in ASSETS.iterdir() if (p / "config.json").is_file()
                    and json.loads((p / "config.json").read_text())["model"]["arch"] == "mlp")


def test_there_are_bundled_mlp_models():
    assert "mnist-2d" in MLP_MODELS


@pytest.mark.parametrize("name", MLP_MODELS)
@pytest.mark.parametrize("dtype", ["auto", "float16", "float32"])
def test_the_numpy_export_is_the_torch_export(name, dtype):
    from vae import load_model
    from vae.browser_decoder import export_decoder_binary

    cfg, weights = read_numpy_checkpoint(ASSETS / name)
    assert export_decoder_binary_numpy(cfg, weights, dtype) == export_decoder_binary(load_model(ASSETS / name), dtype)


def test_a_conv_model_or_bad_files_give_none(tmp_path):
    conv = read_numpy_checkpoint(ASSETS / "mnist-conv")
    assert conv is not None and export_decoder_binary_numpy(*conv) is None
    assert read_numpy_checkpoint(tmp_path / "missing") is None
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_bytes((ASSETS / "mnist-2d" / "config.json").read_bytes())
    (bad / "model.safetensors").write_bytes(b"\x80\x04 a pickle, not safetensors")
    assert read_numpy_checkpoint(bad) is None
    (bad / "model.safetensors").write_bytes((ASSETS / "mnist-2d" / "model.safetensors").read_bytes()[:-8])
    assert read_numpy_checkpoint(bad) is None
    (bad / "config.json").write_text("{not json")
    assert read_numpy_checkpoint(bad) is None


def test_reading_and_exporting_does_not_import_torch():
    code = ("import sys\nfrom vae.browser_weights import export_decoder_binary_numpy, read_numpy_checkpoint\n"
            "header, blob = export_decoder_binary_numpy(*read_numpy_checkpoint('assets/mnist-2d'))\n"
            "assert header['latent_dim'] == 2 and len(blob) > 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pandas', 'pyarrow')))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
