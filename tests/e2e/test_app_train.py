"""Training in a real Chromium: a one-epoch run on digits runs live to the end and its curves appear; a second
run in the same browser keeps the first listed and both runs' curves are overlaid; the trained model opens on
every page. The page makes only local requests and logs no console error (none ignored) through both runs
(the checks of tests/e2e/test_app_pages.py's every-page walk, on a page that trains to the end)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import app_console_errors, assert_no_exception, goto_page, wait_for_app_run, wait_until_trained
from tests.e2e.helpers import record_traffic

_RUN_GROUPS_JS = """(el) => { const gd = el.querySelector('.js-plotly-plot');
    return gd && gd._fullData ? [...new Set(gd._fullData.map(t => t.legendgroup))].sort() : null; }"""


def _first_run_finished_with_its_curves(page: Page) -> None:
    """One epoch on digits ran live to the end: its per-step curves, per-epoch points and images are drawn."""
    progress = page.get_by_test_id("stProgress")
    expect(progress).to_be_visible()
    wait_until_trained(progress)
    wait_for_app_run(page)
    expect(progress).to_contain_text("epoch 1/1")
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart).to_be_visible()
    # per-step curves and the per-epoch train/test points are drawn
    assert chart.locator(".scatterlayer .trace").count() >= 4
    expect(page.get_by_test_id("stImage").filter(has_text="reconstructions")).to_be_visible()
    expect(page.get_by_test_id("stImage").filter(has_text="prior samples")).to_be_visible()


def test_two_one_epoch_runs_train_live_draw_curves_and_are_both_listed(page: Page, app_server: str):
    """Issue 27: a new Start replaced the last run. Two runs in one browser: both are listed and both curves drawn."""
    page.set_viewport_size({"width": 1400, "height": 2400})
    goto_page(page, app_server, "train")
    # from the page's first run on (a deep link's first load probes /train/_stcore/health and host-config, a 404 by
    # design: test_app_pages.py's walk opens its pages through the sidebar's links)
    outside, failed, errors = record_traffic(page, app_server)
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill("1")
    epochs.press("Enter")
    wait_for_app_run(page)
    for run in (1, 2):
        hidden = page.get_by_role("textbox", name="Hidden layers")
        hidden.fill(f"{8 * run}")                      # the two runs differ in their settings
        hidden.press("Enter")
        wait_for_app_run(page)
        page.get_by_role("button", name="Start").click()
        if run == 1:                                   # (the second's bar starts from the first's "finished")
            _first_run_finished_with_its_curves(page)
    expect(page.get_by_text("This browser's runs (2)")).to_be_visible()
    # the bar above that list is the second run's now: wait as long as it moves (at load 40 one epoch took more than
    # HANG_MS, and the fixed-bound wait on the overlay below timed out while the run still trained)
    wait_until_trained(page.get_by_test_id("stProgress"))
    wait_for_app_run(page)
    # the runs' table, once, and the finished run's table of epochs (the cells of both: a canvas)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(2)
    overlay = page.get_by_test_id("stPlotlyChart").filter(has_text="solid: test −ELBO per epoch")
    # both runs' curves, the second's once it has finished (its test point comes at the end of its epoch)
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')].some(gd => gd._fullData
        && gd._fullData.some(t => t.name === 'run 2 · finished') && gd._fullData.some(t => t.name === 'run 1 · finished'))""")
    wait_for_app_run(page)
    assert overlay.evaluate(_RUN_GROUPS_JS) == ["run 1", "run 2"]
    overlay.scroll_into_view_if_needed()
    page.screenshot(path=str(Path(__file__).parent / "screenshots" / "train-runs.png"), full_page=True)
    assert_no_exception(page)
    # the trained model opens on every page through the sidebar
    page.get_by_role("button", name="Explore it on every page").click()
    wait_for_app_run(page)
    expect(page.get_by_test_id("stSidebar").get_by_text("trained in this session")).to_be_visible()
    assert_no_exception(page)
    assert app_console_errors(page) == []
    # nothing left the machine, nothing failed to load, no console error (none ignored) through both runs
    assert outside == [], outside
    assert failed == [], failed
    assert errors == [], errors
