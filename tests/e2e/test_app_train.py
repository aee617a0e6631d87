"""Training in a real Chromium: one epoch on digits runs live to the end and its curves appear."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import app_console_errors, assert_no_exception, goto_page, wait_for_app_run, wait_until_trained


def test_one_epoch_on_digits_runs_live_and_draws_curves(page: Page, app_server: str):
    goto_page(page, app_server, "train")
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill("1")
    epochs.press("Enter")
    wait_for_app_run(page)
    page.get_by_role("button", name="Start").click()
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
    # the trained model opens on every page through the sidebar
    page.get_by_role("button", name="Explore it on every page").click()
    wait_for_app_run(page)
    expect(page.get_by_test_id("stSidebar").get_by_text("trained in this session")).to_be_visible()
    assert_no_exception(page)
    assert app_console_errors(page) == []
