"""The `page` fixture hands each test the worker's one tab (tests/e2e/conftest.py, ReusedTab): what one test
leaves on it (cookies, stored data, listeners, other tabs, a viewport, an emulated colour scheme) is gone for
the next. The tests run in this order in one worker (pytest-xdist's --dist loadfile); the server's plain health
endpoint is the origin, so no app page is loaded."""

from __future__ import annotations

from playwright.sync_api import Page

heard: list[str] = []
tabs: list[Page] = []


def _stored(page: Page) -> list:
    """[localStorage's keys, sessionStorage's keys, the names of the cookies other than Streamlit's own]"""
    return page.evaluate("[Object.keys(localStorage), Object.keys(sessionStorage), document.cookie.split('; ')"
                         ".map(c => c.split('=')[0]).filter(n => n && n !== '_streamlit_xsrf')]")


def _other_origin(app_server: str) -> str:
    return f"{app_server.replace('127.0.0.1', 'localhost')}/_stcore/health"


def test_a_test_leaves_cookies_storage_a_listener_another_tab_and_a_viewport(page: Page, app_server):
    page.goto(f"{app_server}/_stcore/health")
    page.evaluate("localStorage.setItem('left', '1'); sessionStorage.setItem('left', '1'); "
                  "document.cookie = 'left=1; path=/; max-age=3600'")
    assert _stored(page) == [["left"], ["left"], ["left"]]
    # a second origin (the same server by another name) given session storage only, which the context's stored
    # state does not list
    page.goto(_other_origin(app_server))
    page.evaluate("sessionStorage.setItem('left', '1')")
    assert _stored(page)[:2] == [[], ["left"]]
    page.on("console", lambda msg: heard.append(msg.text))
    page.context.new_page()
    page.set_viewport_size({"width": 700, "height": 500})
    page.evaluate("console.log('first test')")
    page.wait_for_function("true")
    tabs.append(page)


def test_the_next_test_finds_none_of_it_on_the_same_tab(page: Page, app_server):
    assert page.url == "about:blank"
    assert page.viewport_size == {"width": 1400, "height": 1000}
    assert page.context.pages == [page]
    page.goto(f"{app_server}/_stcore/health")
    assert _stored(page) == [[], [], []]
    page.goto(_other_origin(app_server))
    assert _stored(page)[:2] == [[], []]
    heard_before = list(heard)
    page.evaluate("console.log('second test')")
    page.wait_for_function("true")
    assert heard == heard_before, "the first test's listener still hears this tab"
    assert tabs and tabs[-1] is page, "not the same tab: every test pays for a new context"


def test_a_test_that_emulates_a_dark_scheme(page: Page):
    page.emulate_media(color_scheme="dark")
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    tabs.append(page)


def test_the_next_test_gets_a_fresh_tab_in_the_light(page: Page):
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") is False
    assert tabs and tabs[-1] is not page
