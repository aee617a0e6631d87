"""The app on an outside model (vae/models/outside.py) under streamlit.testing's AppTest: named by the
environment (as `-- --model` would), listed in the sidebar, every page opens without an exception; hosted
mode refuses it with a message and never imports it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
SPEC = str(REPO / "tests" / "outside_vaes.py")
PAGES = ("decode", "latent_map", "interpolate", "generate", "posterior", "directions", "likelihood", "factors",
         "compare", "train")


def test_parse_request_reads_the_script_arguments_then_the_environment():
    from vae.ui.outside import parse_request

    r = parse_request(["--model", "my_vae.py:build", "--weights", "w.safetensors", "--dataset", "mnist"], {})
    assert (r.spec, r.weights, r.dataset, r.label) == ("my_vae.py:build", "w.safetensors", "mnist", "my_vae.py:build")
    r = parse_request([], {"VAE_EXPLORER_MODEL": "pkg.mod:fn", "VAE_EXPLORER_DATASET": "digits"})
    assert (r.spec, r.weights, r.dataset) == ("pkg.mod:fn", None, "digits")
    assert parse_request([], {}) is None


@pytest.mark.parametrize("fn", ["build_conv", "build_gaussian"])
def test_every_page_opens_on_an_outside_model(fn, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_MODEL", f"{SPEC}:{fn}")
    monkeypatch.setenv("VAE_EXPLORER_DATASET", "mnist")
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.sidebar.radio(key="sb_source").value == "outside"
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert f"outside_vaes.py:{fn}" in captions and "outside," in captions and "mnist" in captions
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])
    at.switch_page("pages/decode.py").run()
    assert at.image, "the Decode page shows decoded images"


def test_hosted_mode_refuses_an_outside_model_and_never_imports_it(monkeypatch, tmp_path, assets_dir):
    from vae.ui import loaders

    monkeypatch.setattr(loaders, "ASSETS_DIR", assets_dir)
    marker = tmp_path / "imported"
    src = tmp_path / "evil.py"
    src.write_text(f"open({str(marker)!r}, 'w').write('x')\ndef build():\n    return None\n")
    monkeypatch.setenv("VAE_EXPLORER_HOSTED", "1")
    monkeypatch.setenv("VAE_EXPLORER_MODEL", f"{src}:build")
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.sidebar.error)
    assert "--model evil.py:build refused" in errors and "never imports outside code" in errors
    assert str(tmp_path) not in errors                  # no server path on the page
    assert "outside" not in at.sidebar.radio(key="sb_source").options
    assert not marker.exists()
