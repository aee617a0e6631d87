"""Fixtures for end-to-end tests: a real `streamlit run` server and Debian's Chromium via Playwright.

Modelled on Streamlit's own e2e_playwright fixtures: the server starts headless on a free port,
tests wait for the app to be connected and idle (`wait_for_app_run`) instead of sleeping.

    app_server          session-scoped base URL of `streamlit run app.py`
    streamlit_app       factory: streamlit_app("tests/e2e/apps/x.py") -> base URL (one server per script)
    browser             session-scoped Chromium (CHROMIUM env var, else /usr/bin/chromium)
    page                the worker's one tab, reset between tests (ReusedTab); `page.console_errors` lists console
                        errors and page errors
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.e2e.helpers import HANG_MS

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
# a hang detector like HANG_MS (tests/e2e/helpers.py), not a speed check: at load 30 a server's start (its
# imports) has taken minutes, and a 60 s bound failed tests that would have passed
SERVER_START_TIMEOUT_S = 300
# the servers running now, and those a test closed (its own, in a `finally`): a failing test's report carries the
# end of each one's log (a traceback seen only in CI says where it came from). A closed server's log is deleted once
# the test's report is made, or at once outside pytest (a full suite used to leave 40-odd logs in /tmp)
CONNECTION_WORDS = re.compile(r"websocket|disconnect|reconnect|connection", re.I)
_RUNNING: list["StreamlitServer"] = []
_CLOSED: list["StreamlitServer"] = []
LOG_TAIL_LINES = 80


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """`streamlit run SCRIPT` headless on a free loopback port, stopped with `close()`."""

    def __init__(self, script: str | Path, extra_env: dict[str, str] | None = None,
                 script_args: list[str] | None = None, tls: tuple[Path, Path] | None = None,
                 root: Path | None = None):
        """`script_args`: after `--` (the app's own flags); `tls`: (certificate, key) files to serve over HTTPS
        (Streamlit's server.sslCertFile/sslKeyFile); `root`: run the app of another checkout (its folder first
        on PYTHONPATH; a benchmark's baseline), not this one."""
        self.script = str(script)
        self.port = _free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._ssl = None
        if tls:
            import ssl
            self._ssl = ssl.create_default_context(cafile=str(tls[0]))
            self._ssl.check_hostname = False
        self.log = tempfile.NamedTemporaryFile(prefix="streamlit-", suffix=".log", delete=False)
        # no background UMAP warm-up (vae.ui.warmup) unless a test asks: 14 s of CPU per server otherwise; no
        # torch-free first picture (vae.ui.decode.first_picture) unless a test asks: a test drives the page's control
        env = {"VAE_WARMUP": "0", "VAE_FIRST_PICTURE": "0", **os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {}),
               **({"PYTHONPATH": str(root)} if root else {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", self.script,
             "--server.headless", "true", "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
             "--server.runOnSave", "false",
             *(["--server.sslCertFile", str(tls[0]), "--server.sslKeyFile", str(tls[1])] if tls else []),
             *(["--", *script_args] if script_args else [])],
            cwd=root or REPO, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        _RUNNING.append(self)
        try:
            self._wait_healthy()
        except BaseException:
            self.close()
            raise

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2, context=self._ssl) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"streamlit did not become healthy in {SERVER_START_TIMEOUT_S}s:\n{self.output()}")

    def _log_text(self) -> str:
        """The server's whole log (stdout and stderr), running or closed."""
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def output(self) -> str:
        """The last 5,000 characters of the server's log."""
        return self._log_text()[-5000:]

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last `lines` lines of the server's log."""
        return "\n".join(self._log_text().splitlines()[-lines:])

    def terminate(self) -> None:
        """Ask the server to stop (SIGTERM to its process group) without waiting; `close()` waits."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 15)

    def close(self) -> None:
        """Stop the server: SIGTERM, up to 10 s for it to exit, then SIGKILL."""
        self.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)
            self.proc.wait(10)
        self.log.close()
        if self in _RUNNING:
            _RUNNING.remove(self)
            if os.environ.get("PYTEST_CURRENT_TEST"):
                _CLOSED.append(self)        # deleted after the test's report (pytest_runtest_makereport)
            else:
                self.delete_log()

    def delete_log(self) -> None:
        """Remove the log file, unless VAE_KEEP_SERVER_LOGS is set."""
        if not os.environ.get("VAE_KEEP_SERVER_LOGS"):
            Path(self.log.name).unlink(missing_ok=True)


def unpack_commit(ref: str, into: Path) -> Path:
    """This repository's tree at commit `ref`, unpacked into the folder `into` (git archive; a benchmark's
    baseline, served with StreamlitServer(..., root=into)); returns `into`."""
    archive = subprocess.run(["git", "archive", ref], cwd=REPO, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; .ci/run installs Debian's chromium")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="session")
def streamlit_app():
    """Factory: streamlit_app(script, args=[...], **env) -> base URL; each script (with its arguments, after
    `--`, and environment) gets one server for the session."""
    servers: dict[str, StreamlitServer] = {}

    def start(script: str | Path = "app.py", args: list[str] | None = None, **env: str) -> str:
        key = f"{script}|{args}|{sorted(env.items())}"
        if key not in servers:
            servers[key] = StreamlitServer(script, env, args)
        return servers[key].url

    start.servers = servers
    yield start
    for server in servers.values():      # all asked at once: the session's end waits for the slowest, not the sum
        server.terminate()
    for server in servers.values():
        server.close()


@pytest.fixture(scope="session")
def app_server(streamlit_app) -> str:
    """Base URL of `streamlit run app.py`."""
    return streamlit_app("app.py")


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=HANG_MS)      # a hang detector, not a speed check (tests/e2e/helpers.py)

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


VIEWPORT = {"width": 1400, "height": 1000}
# What a test can leave on a tab or its context beyond the document it shows: a test that calls one of these gets
# its tab and context closed after it (the next test starts on fresh ones), so no later test inherits an init
# script, a route, an emulated colour scheme or a permission.
SHARED_CHANGERS = ("add_init_script", "route", "route_from_har", "route_web_socket", "expose_function", "expose_binding",
                   "set_extra_http_headers")
TAB_CHANGERS = (*SHARED_CHANGERS, "emulate_media", "add_locator_handler")
CONTEXT_CHANGERS = (*SHARED_CHANGERS, "grant_permissions", "set_geolocation", "set_offline")


class ReusedTab:
    """One browser context and tab per pytest worker, handed to test after test (the `page` fixture).

    A new context and a first load of the app cost Chromium 2.3-2.8 CPU s, a load in a tab that has shown the app
    0.9-1.2 (its process, and its HTTP cache of the app's scripts, are warm): over the suite's 55-odd browser
    tests that is about a tenth of its CPU. Between tests the tab goes to about:blank (the app's session on the
    server ends, as when a context closes), its cookies and every origin's storage are cleared, the listeners a
    test added are removed, its other tabs closed and the viewport set back. A test that changed what a
    navigation cannot undo (TAB_CHANGERS, CONTEXT_CHANGERS) or that failed gets a fresh context next time."""

    def __init__(self, browser):
        self.browser = browser
        self.context = self.tab = None
        self.dirty = True
        self.errors: list[str] = []          # this test's console errors (`page.console_errors`)
        self.said: list[str] = []            # this test's connection messages (`browser_connection_log`)
        self.listeners: list[tuple[object, str, object]] = []
        self.origins: set[str] = set()       # the origins this tab showed (its session storage is kept per origin)

    def _open(self) -> None:
        self.close()
        self.context = self.browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        self.tab = self.context.new_page()
        self.tab.set_default_timeout(HANG_MS)
        self.tab.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.tab.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        # what every tab of this context said about its connection to the server (a failure report shows it: a
        # tab whose page stopped updating had lost its websocket, "Cannot send rerun backMessage when
        # disconnected")
        self.context.on("console", lambda msg: self.said.append(f"{time.strftime('%H:%M:%S')} {msg.type}: {msg.text}")
                        if CONNECTION_WORDS.search(msg.text) else None)

        def watch_sockets(tab) -> None:
            tab.on("websocket", lambda ws: ws.on(
                "close", lambda _: self.said.append(f"{time.strftime('%H:%M:%S')} websocket closed: {ws.url}")))
        watch_sockets(self.tab)
        self.context.on("page", watch_sockets)
        self.tab.on("framenavigated", self._note_origin)
        for target, names in ((self.tab, TAB_CHANGERS), (self.context, CONTEXT_CHANGERS)):
            for name in names:
                setattr(target, name, self._marking(getattr(target, name)))
            for name in ("on", "once"):
                setattr(target, name, self._tracking(target, getattr(target, name)))
        self.dirty = False

    def _note_origin(self, frame) -> None:
        url = urlparse(frame.url)
        if frame.parent_frame is None and url.scheme in ("http", "https"):
            self.origins.add(f"{url.scheme}://{url.netloc}")

    def _marking(self, method):
        def call(*args, **kwargs):
            self.dirty = True
            return method(*args, **kwargs)
        return call

    def _tracking(self, target, method):
        def add(event, handler):
            self.listeners.append((target, event, handler))
            return method(event, handler)
        return add

    def take(self):
        """The tab for the next test: the last one, reset, or a fresh one."""
        if self.dirty or self.tab is None or self.tab.is_closed():
            self._open()
        self.errors.clear()
        self.said.clear()
        self.tab.console_errors = self.errors
        return self.tab

    def give_back(self, failed: bool) -> None:
        """Reset the tab after a test, or mark it for a fresh context when that cannot be done."""
        if self.dirty or failed or self.tab.is_closed():
            self.dirty = True
            return
        for target, event, handler in self.listeners:
            target.remove_listener(event, handler)
        self.listeners.clear()
        for other in self.context.pages:
            if other != self.tab:
                other.close()
        self.tab.goto("about:blank")
        if self.tab.viewport_size != VIEWPORT:
            self.tab.set_viewport_size(VIEWPORT)
        self.context.clear_cookies()
        # local storage of any tab (the context's stored state lists it), session storage of this one (the origins it
        # showed; the other tabs' went with them)
        origins = self.origins | {o["origin"] for o in self.context.storage_state()["origins"]}
        self.origins.clear()
        cdp = self.context.new_cdp_session(self.tab)
        try:
            for origin in origins:
                cdp.send("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
        finally:
            cdp.detach()

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
        self.context = self.tab = None
        self.listeners.clear()
        self.origins.clear()


@pytest.fixture(scope="session")
def _reused_tab(browser):
    tab = ReusedTab(browser)
    yield tab
    tab.close()


@pytest.fixture
def page(_reused_tab, request):
    """A tab of Chromium for this test, showing about:blank, with no cookies or stored data and the viewport
    VIEWPORT; `page.console_errors` lists its console errors and page errors (ReusedTab)."""
    pg = _reused_tab.take()
    request.node.browser_connection_log = _reused_tab.said
    passed = False
    try:
        yield pg
        call = getattr(request.node, "rep_call", None)
        passed = call is not None and not call.failed
        if call is not None and call.failed and not pg.is_closed():
            shots = REPO / "tests" / "e2e" / "screenshots"
            shots.mkdir(parents=True, exist_ok=True)
            try:
                pg.screenshot(path=str(shots / f"{request.node.name}.png"), full_page=True)
            except Exception:  # the page may be gone; the failure itself is what matters
                pass
    finally:
        _reused_tab.give_back(failed=not passed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
    if rep.failed:
        for server in [*_RUNNING, *_CLOSED]:
            try:
                tail = server.log_tail()
            except (OSError, ValueError) as e:
                tail = f"(log unreadable: {e})"
            rep.sections.append((f"streamlit server {server.url} {server.script}: its log's last {LOG_TAIL_LINES} "
                                 "lines", tail))
        said = getattr(item, "browser_connection_log", None)
        if said:
            shown = said if len(said) <= 40 else [*said[:20], f"... ({len(said) - 40} more)", *said[-20:]]
            rep.sections.append(("the browser's tabs about their connection", "\n".join(shown)))
    if rep.when == "teardown":
        _delete_closed_logs()


def _delete_closed_logs() -> None:
    while _CLOSED:
        _CLOSED.pop().delete_log()


def pytest_sessionfinish(session, exitstatus):
    """The session's shared servers close in the last test's teardown; when that test is not an e2e test (a worker
    ends on a library test) the hook above never sees its report, so their logs go here."""
    _delete_closed_logs()
