"""Helpers for driving a Streamlit app in Playwright without sleeps (after streamlit's e2e_playwright)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

# Console noise that is not the app's fault: no network on these machines, and favicon/fonts lookups.
IGNORED_CONSOLE = re.compile(r"(net::ERR_|Failed to load resource|favicon|fonts\.g|ERR_NAME_NOT_RESOLVED"
                             r"|ERR_INTERNET_DISCONNECTED|Content Security Policy)", re.I)


def wait_for_app_run(page: Page, timeout: float = 30_000, settle_ms: int = 100) -> None:
    """Wait until the app is connected and its script has finished running."""
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    if settle_ms:
        page.wait_for_timeout(settle_ms)


def goto_page(page: Page, base_url: str, url_path: str = "", timeout: float = 60_000) -> None:
    """Open `base_url/url_path` and wait for the first run to finish."""
    page.goto(f"{base_url.rstrip('/')}/{url_path.lstrip('/')}", timeout=timeout)
    wait_for_app_run(page, timeout=timeout)


def assert_no_exception(page: Page) -> None:
    """No st.exception box on the page."""
    expect(page.get_by_test_id("stException")).to_have_count(0)


def app_console_errors(page: Page) -> list[str]:
    """Console errors minus network noise from the closed sandbox network."""
    return [e for e in getattr(page, "console_errors", []) if not IGNORED_CONSOLE.search(e)]
