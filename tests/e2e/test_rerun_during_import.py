"""A click that starts the next page while the previous run is still inside the process's first `import pandas`
(issue 22: an exception box on Interpolate, seen once in CI on an uploaded ONNX model).

Streamlit starts the next run in a new thread at once (runner.fastReruns); the previous run's thread goes on to its
next Streamlit call, and the Latent map's first run imports pandas there (Streamlit checks a component's arguments
for data frames). Plotly looks pandas up in sys.modules without the import lock: the Interpolate page of an outside
model, which imports pandas nowhere before its Plotly map, found it half made and failed with "partially
initialized module 'pandas' has no attribute 'Series'". Under load the import takes seconds; here the server's
pandas import is held for HOLD_S seconds (a sitecustomize on the server's PYTHONPATH, this test's alone), so the
click always lands inside it. app.py imports pandas before any page runs: the Interpolate run waits for it."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import StreamlitServer
from tests.e2e.helpers import HANG_MS, assert_no_exception, wait_for_app_run

REPO = Path(__file__).resolve().parents[2]
SPEC = f"{REPO / 'tests' / 'outside_vaes.py'}:build_conv"
HOLD_S = 8.0

SLOW_PANDAS = textwrap.dedent('''
    """Test-only (tests/e2e/test_rerun_during_import.py): hold the first import of pandas for a while, half made."""
    import importlib.abc
    import os
    import sys
    import time


    class _HoldPandas(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            # pandas/__init__ imports pandas.core.api (and with it Series) after pandas is in sys.modules
            if name == "pandas.core.api":
                sys.meta_path.remove(self)
                with open(os.environ["VAE_TEST_PANDAS_MARKER"], "w") as f:
                    f.write(str(time.time()))
                time.sleep(float(os.environ["VAE_TEST_PANDAS_HOLD_S"]))
            return None


    sys.meta_path.insert(0, _HoldPandas())
''')


@pytest.fixture
def slow_pandas_server(tmp_path):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_PANDAS)
    marker = tmp_path / "pandas-import-started"
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p),
           "VAE_TEST_PANDAS_MARKER": str(marker), "VAE_TEST_PANDAS_HOLD_S": str(HOLD_S),
           "VAE_EXPLORER_MODEL": SPEC, "VAE_EXPLORER_DATASET": "mnist"}
    server = StreamlitServer("app.py", env)
    try:
        yield server.url, marker
    finally:
        server.close()


def test_a_page_opened_while_the_previous_run_imports_pandas_shows_no_exception(page: Page, slow_pandas_server):
    url, marker = slow_pandas_server
    page.goto(f"{url}/latent_map", timeout=HANG_MS)
    deadline = time.monotonic() + HANG_MS / 1000
    while not marker.exists():                # the first run is inside `import pandas` now, for HOLD_S seconds
        assert time.monotonic() < deadline, "the server never imported pandas"
        page.wait_for_timeout(50)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Interpolate", exact=True).click()
    wait_for_app_run(page)
    expect(page.get_by_test_id("stHeading").filter(has_text="Interpolate between two points")).to_be_visible()
    assert_no_exception(page)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(1)       # the path on the map: a Plotly figure
