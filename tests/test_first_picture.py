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


RECORDED = """
import json
from types import SimpleNamespace

import streamlit as st

import vae.ui.components.latent_control as lc
from vae.ui.decode import first_picture

seen = []
_component = lc._component
lc._component = lambda **kw: seen.append(lc.unpack_payload(kw["data"])[0]) or _component(**kw)
drawn = first_picture.draw(SimpleNamespace(url_path=""))
st.session_state["control"] = json.dumps([drawn] + [{k: d[k] for k in ("dims", "labels", "inactive", "pad_dims")}
                                                     for d in seen])
"""
RECORDED_RUN = '''
from streamlit.testing.v1 import AppTest

at = AppTest.from_string(SCRIPT).run(timeout=60)
assert not at.exception, at.exception
print(at.session_state["control"])
'''


def _early_control(env: dict[str, str] | None = None) -> list:
    """[drawn, {dims, labels, inactive, pad_dims} of the early control] of a fresh first Decode run."""
    import json
    import os

    code = RECORDED_RUN.replace("SCRIPT", repr(RECORDED))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "VAE_FIRST_PICTURE": "1", **(env or {})})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _page_control(folder: Path) -> dict:
    """The Decode page's own order, labels, inactive flags and pad for the checkpoint `folder` on its data set."""
    import numpy as np

    from vae.dims import INACTIVE_KL
    from vae.ui.components.latent_control.payload import _labels
    from vae.ui.decode.first_picture import page_kl

    kl = page_kl(folder)[0]
    order = [int(d) for d in np.argsort(-kl, kind="stable")]
    return {"dims": order, "labels": _labels(len(order), None, kl), "inactive": [bool(k < INACTIVE_KL) for k in kl],
            "pad_dims": order[:2]}


def test_the_early_sliders_have_the_pages_order_and_labels():
    """Bug: the early control listed z1, z2 while the page orders by KL (z2, z1 on mnist-2d): the sliders
    swapped places under the hand when the page took over."""
    from vae.ui.bundled import ASSETS_DIR, DEFAULT_BUNDLED

    drawn, *controls = _early_control()
    assert drawn is True and len(controls) == 1
    assert controls[0] == _page_control(ASSETS_DIR / DEFAULT_BUNDLED)


def test_without_the_order_for_these_weights_there_is_no_early_picture(tmp_path):
    """A dim_order.json of other weights (a retrained model) or none: the page's order is unknown before
    torch, so the page draws its own control and nothing swaps."""
    import json
    import shutil

    from vae.browser_weights import DIM_ORDER_FILE
    from vae.ui.bundled import ASSETS_DIR, DEFAULT_BUNDLED

    folder = tmp_path / DEFAULT_BUNDLED
    shutil.copytree(ASSETS_DIR / DEFAULT_BUNDLED, folder)
    record = json.loads((folder / DIM_ORDER_FILE).read_text())
    (folder / DIM_ORDER_FILE).write_text(json.dumps({**record, "decoder_hash": "0" * 16}))
    assert _early_control({"VAE_ASSETS_DIR": str(tmp_path)}) == [False]
    (folder / DIM_ORDER_FILE).unlink()
    assert _early_control({"VAE_ASSETS_DIR": str(tmp_path)}) == [False]
