"""vae.ui.decode.first_picture: a fresh server's first Decode run draws its picture without importing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
from types import SimpleNamespace

import streamlit as st

from vae.ui.decode import first_picture

st.session_state["drawn"] = first_picture.draw(SimpleNamespace(url_path=PATH))
"""
FIRST_RUN = '''
import sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_string(SCRIPT).run(timeout=60)
assert not at.exception, at.exception
print(at.session_state["drawn"], [t.value for t in at.title],
      sorted({m.split(".")[0] for m in sys.modules} & {"torch", "pandas", "pyarrow", "sklearn", "scipy"}))
'''


def _first_run(path: str, env: dict[str, str] | None = None) -> str:
    import os

    code = FIRST_RUN.replace("SCRIPT", repr(SCRIPT.replace("url_path=PATH", f"url_path={path!r}")))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "VAE_FIRST_PICTURE": "1", **(env or {})})
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_the_first_decode_run_draws_its_picture_without_torch():
    assert _first_run("") == "True ['Decode a latent point'] []"


def test_other_pages_and_switched_off_draw_nothing():
    assert _first_run("latent_map") == "False [] []"
    assert _first_run("", {"VAE_FIRST_PICTURE": "0"}) == "False [] []"
    assert _first_run("", {"VAE_EXPLORER_MODEL": "x.py:make"}) == "False [] []"
