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


def _zip_of(folder: Path) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.iterdir()):
            zf.writestr(f"{folder.name}/{p.name}", p.read_bytes())
    return buf.getvalue()


def test_hosted_mode_accepts_an_onnx_upload_and_every_page_opens_on_it(monkeypatch, tmp_path, assets_dir):
    pytest.importorskip("onnxruntime")
    from vae.cli import main
    from vae.ui import loaders

    out = tmp_path / "my_vae"
    assert main(["export-onnx", f"{SPEC}:build_conv", str(out), "--dataset", "mnist"]) == 0
    monkeypatch.setattr(loaders, "ASSETS_DIR", assets_dir)
    monkeypatch.setenv("VAE_EXPLORER_HOSTED", "1")
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["sb_source"] = "upload"
    at.run()
    at.file_uploader(key="sb_upload_0").set_value(("my_vae.zip", _zip_of(out), "application/zip"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.sidebar.error, [e.value for e in at.sidebar.error]
    captions = " ".join(c.value for c in at.sidebar.caption)
    mb = sum((out / n).stat().st_size for n in ("encoder.onnx", "decoder.onnx")) / 1e6      # 0.077 MB
    size = f"{mb:.1f}" if mb >= 0.1 else f"{mb:.2g}"
    assert f"onnx, 6-d latent, images 1x28x28, {size} MB of ONNX graphs" in captions and "mnist" in captions, captions
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert "onnx, 6-d latent" in " ".join(c.value for c in at.sidebar.caption), page


def test_a_hostile_onnx_upload_is_refused_with_one_line_and_the_model_kept(monkeypatch, tmp_path, assets_dir):
    pytest.importorskip("onnxruntime")
    import onnx

    from vae.cli import main
    from vae.ui import loaders

    out = tmp_path / "bad_vae"
    assert main(["export-onnx", f"{SPEC}:build_mlp", str(out)]) == 0
    m = onnx.load(str(out / "decoder.onnx"))
    m.graph.node[0].domain = "com.evil"
    (out / "decoder.onnx").write_bytes(m.SerializeToString())
    monkeypatch.setattr(loaders, "ASSETS_DIR", assets_dir)
    monkeypatch.setenv("VAE_EXPLORER_HOSTED", "1")
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["sb_source"] = "upload"
    at.run()
    at.file_uploader(key="sb_upload_0").set_value(("bad_vae.zip", _zip_of(out), "application/zip"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.sidebar.error]
    assert any("bad_vae.zip: decoder.onnx: node" in e and "a custom-domain operator" in e for e in errors), errors
    assert "Still showing" in " ".join(c.value for c in at.sidebar.caption)


def test_a_small_onnx_upload_states_its_size_in_the_sidebar(monkeypatch, assets_dir):
    """A few-KB upload (the hand-built pair of test_onnx_models) reads "0.0027 MB of ONNX graphs", not "0.0 MB"."""
    pytest.importorskip("onnxruntime")
    import io
    import zipfile

    from tests.test_onnx_models import pair
    from vae.ui import loaders

    files = pair()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    mb = sum(len(d) for n, d in files.items() if n.endswith(".onnx")) / 1e6
    assert mb < 0.01
    monkeypatch.setattr(loaders, "ASSETS_DIR", assets_dir)
    monkeypatch.setenv("VAE_EXPLORER_HOSTED", "1")
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["sb_source"] = "upload"
    at.run()
    at.file_uploader(key="sb_upload_0").set_value(("tiny.zip", buf.getvalue(), "application/zip"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert f"onnx, 2-d latent, images 1x4x4, {mb:.2g} MB of ONNX graphs" in captions, captions
