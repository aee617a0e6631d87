"""The gallery in a real Chromium, on a hosted server of its own (so it can be restarted):

A trains a small digits model and publishes it; a second publish is refused by the per-owner limit with a
message; B (another browser context: another owner cookie) finds it in the gallery, opens it, decodes the
same picture from A's link, and has no rename or delete; the server restarts and the gallery is intact,
A still owns the entry (its cookie) and B's link still opens it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import StreamlitServer
from tests.e2e.helpers import (
    HANG_MS,
    assert_no_exception,
    choose_option,
    click_when_still,
    goto_page,
    move_first_latent_to_0_3,
    wait_for_app_run,
    wait_until_trained,
)

LIVE = "Object.values(window.__latentControl.instances)[0]"
SHOTS = Path(__file__).parent / "screenshots"
NAME = "A's digits"


def _context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(HANG_MS)
    return ctx, pg


def _decode_ready(page: Page) -> None:
    page.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.ready()", timeout=HANG_MS)


@pytest.fixture
def gallery_server(tmp_path):
    env = {"VAE_EXPLORER_HOSTED": "1", "VAE_GALLERY_DIR": str(tmp_path / "gallery"),
           "VAE_GALLERY_MAX_PER_OWNER": "1"}
    servers = [StreamlitServer("app.py", env)]

    def restart() -> str:
        servers[-1].close()
        servers.append(StreamlitServer("app.py", env))
        return servers[-1].url

    yield servers[0].url, restart, tmp_path / "gallery"
    servers[-1].close()


def test_a_publishes_b_opens_shares_and_cannot_edit_and_a_restart_keeps_it(browser, gallery_server):
    url, restart, gallery_dir = gallery_server
    a_ctx, a = _context(browser)
    b_ctx, b = _context(browser)
    try:
        # A trains one epoch on digits and publishes the model
        goto_page(a, url, "train")
        epochs = a.get_by_label("Epochs", exact=True)
        epochs.fill("1")
        epochs.press("Enter")
        wait_for_app_run(a)
        a.get_by_role("button", name="Start").click()
        wait_until_trained(a.get_by_test_id("stProgress"))
        wait_for_app_run(a)
        main = a.get_by_test_id("stMain")
        main.get_by_text("Publish to the gallery").click()
        main.get_by_label("Name in the gallery").fill(NAME)
        main.get_by_label("Note (optional)").fill("one epoch")
        main.get_by_role("button", name="Publish").click()
        expect(main.get_by_text(re.compile(r"Published .*A's digits"))).to_be_visible(timeout=HANG_MS)
        # a second publish is over the per-owner limit: a one-line message, nothing added
        main.get_by_label("Name in the gallery").fill("A's second")
        main.get_by_role("button", name="Publish").click()
        expect(main.get_by_text(re.compile("Not published: .*VAE_GALLERY_MAX_PER_OWNER"))).to_be_visible(
            timeout=HANG_MS)
        from vae.gallery import Gallery

        [entry] = Gallery(gallery_dir).list()           # one entry, measured on the digits test split
        assert entry.name == NAME and entry.dataset == "digits" and entry.elbo < entry.iwae < 0
        assert sorted(p.name for p in (gallery_dir / "blobs").iterdir()) == [entry.content]   # nothing half-written

        # A opens it from the gallery (owner: rename and delete are there), moves the point, makes a link
        goto_page(a, url, "gallery")
        expect(a.get_by_role("combobox", name="Model", exact=True)).to_have_value(re.compile(re.escape(NAME)))
        expect(a.get_by_role("button", name="Rename")).to_be_visible()
        expect(a.get_by_role("button", name="Delete")).to_be_visible()
        a.get_by_role("button", name="Open on every page").click()
        wait_for_app_run(a)
        _decode_ready(a)
        expect(a.get_by_role("combobox", name="Gallery model")).to_have_value(re.compile(re.escape(NAME)))
        move_first_latent_to_0_3(a)
        wait_for_app_run(a)
        a_picture = a.evaluate(f"() => {LIVE}.canvasHash()")
        a.get_by_test_id("stSidebar").get_by_role("button", name="Link to this view").click()
        wait_for_app_run(a)
        link = a.get_by_test_id("stSidebar").get_by_test_id("stCode").inner_text().strip()
        assert re.search(r"model=gallery%3A[0-9a-f]{10}|model=gallery:[0-9a-f]{10}", link), link
        assert "z=0.3" in link, link

        # B: the gallery lists it; B opens it; B cannot rename or delete it
        goto_page(b, url, "gallery")
        expect(b.get_by_role("combobox", name="Model", exact=True)).to_have_value(re.compile(re.escape(NAME)))
        expect(b.get_by_text("one epoch")).to_be_visible()
        expect(b.get_by_text("Only whoever published this model can rename or delete it.")).to_be_visible()
        expect(b.get_by_role("button", name="Rename")).to_have_count(0)
        expect(b.get_by_role("button", name="Delete")).to_have_count(0)
        SHOTS.mkdir(parents=True, exist_ok=True)
        b.screenshot(path=str(SHOTS / "gallery-b-not-owner.png"), full_page=True)
        b.get_by_role("button", name="Open on every page").click()
        wait_for_app_run(b)
        _decode_ready(b)
        expect(b.get_by_role("combobox", name="Gallery model")).to_have_value(re.compile(re.escape(NAME)))
        # B opens A's link: the same model, the same point, the same picture
        b.goto(link)
        wait_for_app_run(b)
        _decode_ready(b)
        expect(b.locator("input#lc-z-0")).to_have_value(re.compile(r"^0\.30?$"))
        b.wait_for_function(f"(h) => {LIVE}.canvasHash() === h", arg=a_picture, timeout=HANG_MS)
        assert_no_exception(b)

        # the server restarts: the gallery is intact, A (its cookie) still owns the entry, B's link still works
        url2 = restart()
        link2 = link.replace(url, url2)
        goto_page(a, url2, "gallery")
        expect(a.get_by_role("combobox", name="Model", exact=True)).to_have_value(re.compile(re.escape(NAME)))
        expect(a.get_by_role("button", name="Delete")).to_be_visible()
        b.goto(link2)
        wait_for_app_run(b)
        _decode_ready(b)
        b.wait_for_function(f"(h) => {LIVE}.canvasHash() === h", arg=a_picture, timeout=HANG_MS)
        goto_page(b, url2, "gallery")
        expect(b.get_by_role("button", name="Delete")).to_have_count(0)
        # B publishes the sidebar's (bundled) model: B owns that one, and may delete it
        side = b.get_by_test_id("stSidebar")
        click_when_still(side.get_by_text("Bundled", exact=True))
        wait_for_app_run(b)
        click_when_still(side.get_by_text("Publish to the gallery"))
        side.get_by_label("Name in the gallery").fill("B's pick")
        click_when_still(side.get_by_role("button", name="Publish"))
        expect(side.get_by_text(re.compile(r"Published .*B's pick"))).to_be_visible(timeout=HANG_MS)
        goto_page(b, url2, "gallery")
        choose_option(b, b.get_by_role("combobox", name="Model", exact=True), "B's pick")
        wait_for_app_run(b)
        expect(b.get_by_role("button", name="Delete")).to_be_visible()
        assert_no_exception(a)
        assert_no_exception(b)
    finally:
        a_ctx.close()
        b_ctx.close()
