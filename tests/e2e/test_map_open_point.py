"""A point picked on the Latent map, or one of its neighbours, opens on the Decode or Posterior page through a
link that carries it in the URL (?point=test:<index>; issue 27). One browser page walks the three ways (a fresh page
is a fresh Streamlit session: the app's load again, for the server and Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (assert_no_exception, click_first_map_point, goto_page, likelihood_first_column,
                               wait_for_app_run)

SHOTS = Path(__file__).parent / "screenshots"


def _follow_to_posterior(page: Page, index: int) -> None:
    """Click the first 'Posterior' link of the page's main part, which must carry test image `index`; the
    Posterior page then shows that image as x."""
    link = page.get_by_test_id("stMainBlockContainer").get_by_role("link", name="Posterior").first
    assert f"point=test%3A{index}" in link.get_attribute("href")
    link.click()
    page.wait_for_url("**/posterior**")
    wait_for_app_run(page)
    expect(page.get_by_text(f"test image #{index} (label", exact=False).first).to_be_visible()


def _a_selected_point_opens_on_the_posterior_page(page: Page, app_server: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 1800})
    goto_page(page, app_server, "latent_map?model=digits-2d&map=plotly")
    click_first_map_point(page)
    caption = page.get_by_test_id("stImage").filter(has_text="the selected test images")
    expect(caption).to_be_visible()
    index = int(re.search(r"indices: (\d+)", page.get_by_text(re.compile(r"^indices: \d+")).inner_text()).group(1))
    _follow_to_posterior(page, index)
    assert "point=" not in page.url                    # applied once: a reload keeps what the page shows now
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "point-on-posterior.png"), full_page=True)
    assert_no_exception(page)


def _a_neighbour_opens_on_the_decode_page(page: Page, app_server: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 2400})
    goto_page(page, app_server, "latent_map?model=digits-2d&map=plotly")
    click_first_map_point(page)
    first = page.get_by_role("button", name=re.compile(r"^#\d+$")).first      # the nearest neighbour
    first.scroll_into_view_if_needed()
    j = int(first.inner_text().strip().lstrip("#"))
    first.click()
    wait_for_app_run(page)
    expect(page.get_by_text(f"opened: test #{j}")).to_be_visible()
    page.screenshot(path=str(SHOTS / "neighbour-open-links.png"), full_page=True)
    page.get_by_test_id("stMainBlockContainer").get_by_role("link", name="Decode").last.click()
    expect(page.get_by_test_id("stHeading").filter(has_text="Decode a latent point")).to_be_visible()  # the app's root
    wait_for_app_run(page)
    expect(page.get_by_role("button", name=f"Start from map selection (test #{j})")).to_be_visible()
    page.screenshot(path=str(SHOTS / "neighbour-on-decode.png"), full_page=True)
    assert_no_exception(page)


def _an_outlier_of_the_likelihood_ranking_opens_on_the_posterior_page(page: Page, app_server: str) -> None:
    first = likelihood_first_column(page, app_server, 2000)      # once both galleries are drawn (see there)
    caption = first.get_by_test_id("stImageCaption")
    expect(caption).to_have_text(re.compile(r"^#\d+ · "))
    index = int(re.match(r"#(\d+) ", caption.inner_text()).group(1))
    expect(first.get_by_role("link", name="Posterior")).to_have_attribute("href", re.compile(rf"point=test%3A{index}&"))
    page.screenshot(path=str(SHOTS / "likelihood-open-links.png"), full_page=True)
    _follow_to_posterior(page, index)
    assert_no_exception(page)


def test_a_point_a_neighbour_and_an_outlier_open_on_other_pages(page: Page, app_server: str):
    """One browser page: a point selected on the map opens on the Posterior page; a neighbour of it on the Decode
    page; the least likely image of the Likelihood ranking on the Posterior page. Each starts from its own link
    (a new session of the same browser: a link in the URL, so nothing of the last view is recalled)."""
    _a_selected_point_opens_on_the_posterior_page(page, app_server)
    _a_neighbour_opens_on_the_decode_page(page, app_server)
    _an_outlier_of_the_likelihood_ranking_opens_on_the_posterior_page(page, app_server)
