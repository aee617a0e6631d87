"""The Likelihood page's ranking downloads as CSV in Chromium (issue 27: 'the Likelihood ranking ... exported as
CSV'): every ranked image, least likely first, the first row the gallery's first image."""

from __future__ import annotations

import csv
import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_exception, likelihood_first_column


def test_the_likelihood_ranking_downloads_as_csv_least_likely_first(page: Page, app_server: str):
    caption = likelihood_first_column(page, app_server, 1600).get_by_test_id("stImageCaption")
    expect(caption).to_have_text(re.compile(r"^#\d+ · "))
    least = int(re.match(r"#(\d+) ", caption.inner_text()).group(1))
    with page.expect_download() as info:
        page.get_by_role("button", name="Ranking as CSV").click()
    assert info.value.suggested_filename.startswith("likelihood-test-K")
    with open(info.value.path(), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 300                                   # the digits test split, every image ranked
    assert int(rows[0]["index"]) == least                     # least likely first, as the gallery shows
    log_px = [float(r["log_px_nats"]) for r in rows]
    assert log_px == sorted(log_px)
    assert_no_exception(page)
