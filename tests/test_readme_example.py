"""README's "Explore your own VAE": the example in the README is examples/my_vae.py, and its commands run
(training on 512 images for one epoch, scoring 100 images, sampling, opening the app on it, exporting to ONNX)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "my_vae.py"
IMAGES = REPO / "assets" / "mnist" / "t10k-images-idx3-ubyte.gz"     # any IDX file of 28x28 images will do here


def _section() -> str:
    text = (REPO / "README.md").read_text()
    return text.split("## Explore your own VAE", 1)[1].split("\n## ", 1)[0]


def test_the_readme_shows_the_example_file_verbatim():
    block = re.search(r"```python\n(.*?)```", _section(), re.DOTALL).group(1)
    assert block == EXAMPLE.read_text()
    assert len(block.splitlines()) <= 55


def _run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(not IMAGES.is_file(), reason="no bundled MNIST test images")
def test_the_readme_commands_run_at_a_tiny_scale(tmp_path, monkeypatch):
    commands = [line for line in _section().splitlines() if line.startswith("python ")]
    work = tmp_path / "work"
    (work / "examples").mkdir(parents=True)
    shutil.copy(EXAMPLE, work / "examples" / "my_vae.py")
    # 1. train (the README's command, on 512 images for one epoch)
    assert commands[0].startswith("python examples/my_vae.py --images ")
    out = _run(["examples/my_vae.py", "--images", str(IMAGES), "--epochs", "1", "--limit", "512"], work)
    assert "epoch 1: loss" in out and (work / "my_vae.safetensors").is_file()
    # 2. evaluate, 3. sample: the README's commands as written, scaled down with --limit / --n
    assert commands[1].startswith("python -m vae evaluate examples/my_vae.py:build --weights my_vae.safetensors")
    result = json.loads(_run([*commands[1].split()[1:], "--iwae-samples", "4", "--limit", "100"], work))
    assert result["n"] == 100 and result["elbo"] < result["iwae"] < 0 and result["dataset"] == "mnist"
    assert commands[2].startswith("python -m vae sample examples/my_vae.py:build")
    _run([*commands[2].split()[1:], "--n", "4"], work)
    assert (work / "samples.png").is_file()
    # 4. the app with `-- --model ... --weights ... --dataset mnist` (AppTest, the script's argv as streamlit gives it)
    app_args = commands[3].split(" -- ", 1)[1].split()
    assert app_args[:2] == ["--model", "examples/my_vae.py:build"]
    from streamlit.testing.v1 import AppTest

    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "argv", [str(REPO / "app.py"), *app_args])
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.sidebar.error, [e.value for e in at.sidebar.error]
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "my_vae.py:build" in captions and "outside, 20-d latent" in captions and "mnist" in captions
    at.switch_page("pages/generate.py").run()
    assert not at.exception and at.image
    # 5. export to ONNX for a hosted server
    pytest.importorskip("onnxruntime")
    onnx_cmd = next(c for c in commands if c.startswith("python -m vae export-onnx examples/"))
    _run(onnx_cmd.split("#")[0].split()[1:], work)
    meta = json.loads((work / "my_onnx" / "vae.json").read_text())
    assert meta["latent_dim"] == 20 and meta["dataset"] == "mnist"
