"""Screenshots of the Gallery page with the bundled models published: `python results/gallery/make_screenshots.py`.

Publishes the bundled checkpoints of assets/ (each measured on its own data set's test split, as the Publish
button does) into a fresh gallery folder, starts `streamlit run app.py` hosted on it, and saves
results/gallery/gallery-hosted.png (the leaderboard) and gallery-actions.png (a model's actions, seen by a
browser that does not own it); then locally (not hosted, where the gallery is the user's own) gallery-local-owner.png
(rename and delete offered).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer  # noqa: E402
from tests.e2e.helpers import goto_page, wait_for_app_run  # noqa: E402
from vae.cli import main as cli  # noqa: E402

MODELS = ("digits-2d", "shapes-8d", "shapes-beta", "mnist-2d", "mnist-16d", "mnist-conv")


def main() -> None:
    out = Path(__file__).parent
    gdir = Path(tempfile.mkdtemp(prefix="vae-gallery-shots-"))
    for m in MODELS:
        assert cli(["gallery", "--dir", str(gdir), "publish", str(REPO / "assets" / m), "--name", m,
                    "--note", f"the bundled {m}"]) == 0
    server = StreamlitServer("app.py", {"VAE_GALLERY_DIR": str(gdir), "VAE_EXPLORER_HOSTED": "1"})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            goto_page(page, server.url, "gallery")
            page.get_by_text("log p(x) against its lower bound").wait_for()
            wait_for_app_run(page)
            page.screenshot(path=str(out / "gallery-hosted.png"))
            page.get_by_text("Only whoever published this model").scroll_into_view_if_needed()
            wait_for_app_run(page)
            page.screenshot(path=str(out / "gallery-actions.png"))
            browser.close()
    finally:
        server.close()
    local = StreamlitServer("app.py", {"VAE_GALLERY_DIR": str(gdir)})      # not hosted: every entry is yours
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            goto_page(page, local.url, "gallery")
            page.get_by_role("button", name="Delete").scroll_into_view_if_needed()
            wait_for_app_run(page)
            page.screenshot(path=str(out / "gallery-local-owner.png"))
            browser.close()
    finally:
        local.close()
    print(f"wrote {out / 'gallery-hosted.png'}, {out / 'gallery-actions.png'}, {out / 'gallery-local-owner.png'}")


if __name__ == "__main__":
    main()
