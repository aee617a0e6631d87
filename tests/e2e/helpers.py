"""Helpers for driving a Streamlit app in Playwright without sleeps (after streamlit's e2e_playwright)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Page, expect

# How long any one wait may take before the test calls it a hang. A wait is for a condition, never a speed
# check: on a busy 2-core machine (other sessions, bench/cpu_hog.py) a page run or a background task takes
# 5-10x its quiet time (a niced training job of 4 digits epochs took 132 s under bench/cpu_hog.py at load 6),
# so every wait gets the same generous bound (conftest sets it as Playwright's default for pages and for
# `expect`), and no test passes a shorter one for work that grows with the load.
HANG_MS = 300_000

# Console noise that is not the app's fault: no network on these machines, and favicon/fonts lookups.
IGNORED_CONSOLE = re.compile(r"(net::ERR_|Failed to load resource|favicon|fonts\.g|ERR_NAME_NOT_RESOLVED"
                             r"|ERR_INTERNET_DISCONNECTED|Content Security Policy)", re.I)


def wait_for_app_run(page: Page, timeout: float = HANG_MS, settle_ms: int = 100) -> None:
    """Wait until the app is connected and its script has finished running.

    Not a wait for the run a widget change starts: Streamlit's page reads "not running" from the change until the
    server answers it (a widget's rerun request does not set "rerunRequested"), so right after a click, a pick or
    Enter this can return before that run has begun (on a busy machine: a box read, or keys pressed, on the previous
    run's page). Wait first for something that run draws (choose_checkpoint: the model's data set), then for this."""
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    if settle_ms:
        page.wait_for_timeout(settle_ms)


def wait_until_trained(progress, done: str = "finished", stall_ms: float = HANG_MS) -> str:
    """Wait until the training progress bar `progress` (a Locator) contains `done`, for as long as the training
    moves: a run's total time grows with the load (4 digits epochs took over 300 s at load 20), so the hang
    detector is a bar whose step and epoch have not changed for `stall_ms` (its "about N s left" estimate
    changes by itself and does not count). Returns the bar's last text."""
    moved_at, last = time.monotonic(), None
    while True:
        try:
            expect(progress).to_contain_text(done, timeout=5_000)
            return progress.inner_text()
        except AssertionError:
            pass
        try:
            text = progress.inner_text(timeout=5_000)
        except Exception:                 # (the bar redrawn between two looks)
            text = last
        where = re.sub(r"about .* left", "", text or "")
        if where != last:
            moved_at, last = time.monotonic(), where
        elif time.monotonic() - moved_at > stall_ms / 1000:
            raise AssertionError(f"the training has not moved for {stall_ms / 1000:.0f} s: {text!r}")


def goto_page(page: Page, base_url: str, url_path: str = "", timeout: float = HANG_MS) -> None:
    """Open `base_url/url_path` and wait for the first run to finish."""
    page.goto(f"{base_url.rstrip('/')}/{url_path.lstrip('/')}", timeout=timeout)
    wait_for_app_run(page, timeout=timeout)


def assert_no_exception(page: Page) -> None:
    """No st.exception box on the page; a failure quotes the boxes' text (the exception and its trace)."""
    boxes = page.get_by_test_id("stException")
    try:
        expect(boxes).to_have_count(0)
    except AssertionError as e:
        raise AssertionError(f"{page.url} shows an exception: {boxes.all_inner_texts()}") from e


def app_console_errors(page: Page) -> list[str]:
    """Console errors minus network noise from the closed sandbox network."""
    return [e for e in getattr(page, "console_errors", []) if not IGNORED_CONSOLE.search(e)]


# ---- helpers for the explorer app (tests/e2e/test_app_*.py, bench/ui_latency.py) -------------------

def nav_links(page: Page) -> list[tuple[str, str]]:
    """(title, href) of every page in the sidebar navigation."""
    links = page.get_by_test_id("stSidebarNav").locator("a")
    return [(links.nth(i).inner_text().strip().splitlines()[-1].strip(), links.nth(i).get_attribute("href") or "")
            for i in range(links.count())]


def shoot_each_page(page: Page, folder: Path | None, prefix: str = ""):
    """An `on_page` for click_every_page: a full-page screenshot of each page, `{prefix}{title}.png` in `folder`
    (None: none)."""
    def shoot(title: str) -> None:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{prefix}{title.replace(' ', '_')}.png"), full_page=True)
    return shoot


def click_every_page(page: Page, on_page=None, map_ready: str = "s.painted() > 0") -> list[str]:
    """Click each page of the sidebar navigation in turn, in the same session, as a person goes (an upload stays).

    Each page: the URL its link names (a click lost in a rerun would leave the page before it showing); once the
    page on screen was another, its own heading in the main area (the last page's stays until the new run
    replaces it; the first click may be the page open now, which keeps its heading); its run finished and, on a
    WebGL map, `map_ready` (JS over the map's `s`) and the run its value makes (a link clicked while such a value
    was on its way went nowhere, tests/e2e/test_decode_url.py: a small map's thumbnails, "s.thumbsDrawn() > 0",
    come in a rerun of their own; a 10,000-point map draws none in its full view); no exception box, no error
    alert. Then on_page(title). Returns the titles."""
    links = nav_links(page)
    assert len(links) >= 10, links
    nav = page.get_by_test_id("stSidebarNav")
    heading = page.get_by_test_id("stMain").get_by_test_id("stHeading").first
    shown = None                       # the title of the page on screen, once a click has said it
    for title, href in links:
        old = heading.inner_text() if shown is not None and shown != title else None
        click_when_still(nav.get_by_role("link", name=title, exact=True))
        expect(page).to_have_url(re.compile("^" + re.escape(href.split("?")[0].rstrip("/")) + r"/?(\?.*)?$"))
        if old is not None:
            page.wait_for_function("""(old) => { const h = document.querySelector(
                "[data-testid='stMain'] [data-testid='stHeading']"); return h && h.innerText !== old; }""", arg=old)
        wait_for_app_run(page)
        expect(heading).to_be_visible()
        if page.locator("iframe[src*='webgl_scatter']").count():
            wait_scatter(page, map_ready)
            wait_for_app_run(page)
        assert_no_exception(page)
        expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
        if on_page is not None:
            on_page(title)
        shown = title
    return [title for title, _ in links]


def move_first_latent_to_0_3(page: Page) -> None:
    """On the Decode page: three key presses move z1 to 0.30 in the latent control; waits until the released
    z has reached Python (the traversals' caption names the point the server holds)."""
    slider = page.locator("input#lc-z-0")
    slider.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(slider).to_have_value(re.compile(r"^0\.30?$"))
    expect(page.get_by_text(re.compile(r"the others held at the current point z = \[0\.30, "))).to_be_visible()


def image_src(page: Page, caption: str) -> str:
    """The src of the st.image whose caption contains `caption` (media URLs change with the bytes)."""
    return page.get_by_test_id("stImage").filter(has_text=caption).locator("img").first.get_attribute("src")


def wait_for_image_change(page: Page, caption: str, old_src: str, timeout: float = HANG_MS) -> str:
    """Wait until the st.image captioned `caption` shows a different image than `old_src`; returns the new src."""
    page.wait_for_function(
        """([caption, old]) => {
            const figs = [...document.querySelectorAll("[data-testid='stImage']")]
                .filter(e => e.innerText.includes(caption));
            const img = figs.length ? figs[0].querySelector("img") : null;
            return img && img.getAttribute("src") !== old && img.complete;
        }""", arg=[caption, old_src], timeout=timeout)
    return image_src(page, caption)


def wait_until_settled(locator, js: str = "el => null", frames: int = 10) -> object:
    """Wait until the element's box and `js(el)` have not changed for `frames` animation frames in a row
    (a Plotly chart drawn and resized after the app run, a layout done moving); returns the last js(el).
    Counts frames, not milliseconds: a busy machine draws fewer frames a second and the wait grows with it."""
    return locator.evaluate("""async (el, [js, frames]) => {
        const f = eval(js);
        const look = () => { const r = el.getBoundingClientRect();
                             return JSON.stringify([r.x, r.y, r.width, r.height, f(el)]); };
        let last = look(), same = 0;
        while (same < frames) {
            await new Promise(r => requestAnimationFrame(r));
            const now = look();
            same = now === last ? same + 1 : 0;
            last = now;
        }
        return f(el);
    }""", [js, frames])


def click_when_still(locator) -> None:
    """Scroll `locator` into view, wait until it stops moving, then click it.

    A click that scrolls to its target, or lands while an expander above it still opens, can hit the
    place the target was a frame ago on a busy machine (Playwright's own check is two still frames);
    this waits for ten (`wait_until_settled`)."""
    locator.scroll_into_view_if_needed()
    wait_until_settled(locator)
    locator.click()


def choose_option(page: Page, selectbox, option: str, exact: bool = False) -> None:
    """Pick `option` in the Streamlit selectbox `selectbox` (a stSelectbox or its combobox locator) from the
    keyboard: type it, move the list's focus onto it with the arrow keys once the list shows it, press Enter,
    and wait until the box shows it. With `exact=False`, the one option whose name contains `option`.

    No click lands in the open list: a list longer than its box is virtualised and redraws its rows, and on a
    busy machine a click at the place an option had a frame earlier missed it (it went to the map's iframe
    below the list; the same miss as the multiselect's, see pick_in_multiselect). The box itself is clicked
    only once it is in view and still (the sidebar's Dataset box below the fold, clicked while the sidebar
    still scrolled, lost its list)."""
    field = selectbox if selectbox.evaluate("el => el.tagName") == "INPUT" else selectbox.locator("input")
    click_when_still(field)
    field.fill(option)
    expect(field).to_have_attribute("aria-expanded", "true")
    listbox = page.locator(f'[id="{field.get_attribute("aria-controls")}"]')
    target = listbox.get_by_role("option", name=option, exact=exact)
    expect(target).to_be_visible()
    name, target_id = target.inner_text().strip(), target.get_attribute("id")
    # the list's rows once they have held still for ten frames (a filter still being applied would shift them)
    ids = wait_until_settled(listbox, "el => [...el.querySelectorAll('[role=option]')].map(e => e.id)")
    active = field.get_attribute("aria-activedescendant")
    steps = ids.index(target_id) - (ids.index(active) if active in ids else -1)
    for _ in range(abs(steps)):
        field.press("ArrowDown" if steps > 0 else "ArrowUp")
    expect(field).to_have_attribute("aria-activedescendant", target_id)
    field.press("Enter")
    expect(field).to_have_value(name)


def choose_checkpoint(page: Page, name: str, dataset: str) -> None:
    """Open the bundled checkpoint `name` from the sidebar; returns once the sidebar names its data set `dataset`
    (one other than the data set shown before) and that run has finished. The pick is waited for by what it shows:
    right after Enter the app can still read "not running" (the server has not yet answered the rerun), so a wait
    for the run alone returned before the run on a busy machine (the Posterior page read the previous model's data
    set; the Decode page's key presses went to the previous model's control, which the run then replaced)."""
    sidebar = page.get_by_test_id("stSidebar")
    box = sidebar.get_by_role("combobox", name="Checkpoint")
    choose_option(page, box, name, exact=True)
    expect(sidebar.get_by_text(re.compile(rf"^{re.escape(dataset)}: "))).to_be_visible()
    wait_for_app_run(page)
    expect(box).to_have_value(name)


def pick_in_multiselect(page: Page, box, option: str) -> None:
    """Add `option` to the Streamlit multiselect `box` (a stMultiSelect locator) from the keyboard: type it, then
    Enter once the list shows it, and wait for its tag.

    A click on the option of the open list missed it on a busy machine (the list, virtualised, with "Select all"
    at its head, drew its rows again between the look and the click: the click landed on the list itself and
    nothing was picked); typed, the list holds the one option and Enter takes it."""
    field = box.locator("input")
    click_when_still(field)
    field.fill(option)
    expect(page.get_by_role("option", name=option, exact=True)).to_be_visible()
    field.press("Enter")
    expect(box.locator(f'[data-tag][aria-label="{option}"]')).to_have_count(1)


PLOTLY_DRAWN = "el => { const gd = el.querySelector('.js-plotly-plot'); " \
               "return !!(gd && gd._fullLayout && gd._fullData && el.querySelector('.nsewdrag')) && gd._fullData.length; }"


def wait_for_plot(chart) -> None:
    """Wait until the Plotly chart `chart` (a stPlotlyChart locator) is drawn and no longer moves."""
    chart.locator(".js-plotly-plot .nsewdrag").first.wait_for()
    wait_until_settled(chart, PLOTLY_DRAWN)


def box_select(page: Page, chart, x0: float = 0.15, y0: float = 0.15, x1: float = 0.85, y1: float = 0.85) -> None:
    """Drag a selection box over fractions (x0, y0)-(x1, y1) of a Plotly chart's plot area (in "select" dragmode)."""
    area = chart.locator(".nsewdrag").first
    area.wait_for()
    b = area.bounding_box()
    page.mouse.move(b["x"] + b["width"] * x0, b["y"] + b["height"] * y0)
    page.mouse.down()
    for t in (0.25, 0.5, 0.75, 1.0):
        page.mouse.move(b["x"] + b["width"] * (x0 + (x1 - x0) * t), b["y"] + b["height"] * (y0 + (y1 - y0) * t))
    page.mouse.up()


def drag_with_new_images(page: Page, locator, control_js: str, moves: int) -> float:
    """Hold the mouse down on the slider `locator` and move it `moves` times by 4 px (between 15% and 85% of
    its width); after each move, wait until the latent control `control_js` (JS for its test hook) shows a
    new image, all before the release. Returns the slider's value at the release.

    Counts images per move, not per second: the claim "the image follows the drag" holds however slowly a
    busy machine sends the moves (a fixed-time sweep counted fewer moves, hence fewer images, under load)."""
    box = locator.bounding_box()
    y = box["y"] + box["height"] / 2
    x0, x1 = box["x"] + 0.15 * box["width"], box["x"] + 0.85 * box["width"]
    x, direction = box["x"] + box["width"] / 2, 1.0
    page.mouse.move(x, y)
    page.mouse.down()
    for _ in range(moves):
        before = page.evaluate(f"() => {control_js}.canvasHash()")
        x += direction * 4
        if not x0 <= x <= x1:
            direction = -direction
            x = min(max(x + 2 * direction * 4, x0), x1)
        page.mouse.move(x, y)
        page.wait_for_function(f"(old) => {control_js}.canvasHash() !== old", arg=before, polling="raf")
    value = float(locator.input_value())
    page.mouse.up()
    return value


def sweep_drag(page: Page, locator, seconds: float) -> tuple[float, float]:
    """Hold the mouse down on `locator` and sweep it back and forth (4 px a move, between 15% and 85% of
    its width) for `seconds`, then release; returns the page's clock (ms) at mouse down and just before up."""
    box = locator.bounding_box()
    y = box["y"] + box["height"] / 2
    x0, x1 = box["x"] + 0.15 * box["width"], box["x"] + 0.85 * box["width"]
    x, direction = box["x"] + box["width"] / 2, 1.0
    page.mouse.move(x, y)
    page.mouse.down()
    t_down = page.evaluate("() => performance.now()")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        x += direction * 4
        if not x0 <= x <= x1:
            direction = -direction
            x = min(max(x, x0), x1)
        page.mouse.move(x, y)
    t_up = page.evaluate("() => performance.now()")
    page.mouse.up()
    return t_down, t_up


# ---- the Plotly Latent map and drawn digits ----------------------------------------------------------------

FIRST_POINT_JS = """(gd) => {
    // the first point of the first data trace, and every data point drawn within 6 px of it
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const r = gd.getBoundingClientRect();
    const at = (t, i) => [r.left + xa._offset + xa.c2p(t.x[i]), r.top + ya._offset + ya.c2p(t.y[i])];
    const t0 = gd._fullData.find(t => t.customdata && t.x.length);
    const [px, py] = at(t0, 0);
    const near = [];
    for (const t of gd._fullData.filter(t => t.customdata && t.x.length)) {
        for (let i = 0; i < t.x.length; i++) {
            const [x, y] = at(t, i);
            if (Math.hypot(x - px, y - py) <= 6) near.push(String(Number(t.customdata[i][0])));
        }
    }
    return {px, py, index: Number(t0.customdata[0][0]), near};
}"""


def click_first_map_point(page: Page) -> dict:
    """Click the first data point of the (Plotly) Latent map and wait for its one-point selection panel; the
    point as FIRST_POINT_JS gives it."""
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart).to_be_visible()
    wait_for_plot(chart)
    wait_for_app_run(page)
    spot = wait_until_settled(chart.locator(".js-plotly-plot"), FIRST_POINT_JS)
    page.mouse.click(spot["px"], spot["py"])
    expect(page.get_by_text("1 selected point")).to_be_visible()
    wait_for_app_run(page)
    return spot


def drawn_digit_geometry(img_src: str) -> tuple[tuple[float, float], int]:
    """(centre of mass (row, col), side of the ink's bounding box) of an image shown as a PNG data URL
    (vae.ui.images.show), read at 28 x 28: MNIST's digits have (13.5, 13.5) and a side of about 20."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    png = base64.b64decode(img_src.split(",", 1)[1])
    a = np.asarray(Image.open(io.BytesIO(png)).convert("L").resize((28, 28), Image.Resampling.BOX), np.float64)
    rows, cols = np.indices(a.shape)
    com = ((rows * a).sum() / a.sum(), (cols * a).sum() / a.sum())
    ink_r, ink_c = np.nonzero(a >= 32)
    return com, int(max(np.ptp(ink_r), np.ptp(ink_c)) + 1)


def draw_seven_in_corner(page: Page, canvas) -> None:
    """Draw a 7 large in the top-left corner of the drawing canvas `canvas` (its bar, then its stem)."""
    box = canvas.bounding_box()
    at = lambda fx, fy: (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)  # noqa: E731
    page.mouse.move(*at(0.05, 0.05))
    page.mouse.down()
    for i in range(10):
        page.mouse.move(*at(0.05 + 0.55 * i / 9, 0.05))
    for i in range(12):
        page.mouse.move(*at(0.6 - 0.35 * i / 11, 0.05 + 0.7 * i / 11))
    page.mouse.up()


def wait_scatter(page: Page, cond: str, timeout: float | None = None) -> None:
    """Wait until `cond` (JS over `s`, the component's window.__scatter) holds in the map's iframe. Waits from
    the page, not in the frame: a rerun may replace the iframe (a frame waited in would detach). `timeout` (ms):
    the page's default (HANG_MS) unless given, for work known to take longer on a busy machine."""
    page.wait_for_function("""(cond) => [...document.querySelectorAll('iframe')].some(f => {
        if (!/webgl_scatter/.test(f.src)) return false;
        try { const s = f.contentWindow.__scatter; return !!s && !!eval(cond); } catch (e) { return false; }
    })""", arg=cond, timeout=timeout)


def drawn_rows(frame) -> tuple[int, int, int]:
    """(first, last, height): the rows of the WebGL map's canvas (#plot) in `frame` (the component's Playwright
    Frame) that hold a drawn point, as the browser shows it (an element screenshot, once the frame is as tall
    as the canvas and has drawn again)."""
    import io

    import numpy as np
    from PIL import Image

    frame.wait_for_function("() => window.innerHeight >= document.getElementById('plot').clientHeight",
                            timeout=HANG_MS)
    frame.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    shot = frame.locator("#plot").screenshot()
    grey = np.asarray(Image.open(io.BytesIO(shot)).convert("L"))
    rows = np.flatnonzero((grey < 200).any(axis=1))
    return (int(rows[0]), int(rows[-1]), grey.shape[0]) if len(rows) else (-1, -1, grey.shape[0])


def rank_likelihood(page: Page) -> None:
    """On the Likelihood page: start the ranking unless this server has it already (a ranking is kept for every
    page and session: an earlier test's, or the Latent map's colour by log p(x)), then wait for its galleries."""
    start = page.get_by_role("button", name=re.compile(r"^Rank [\d,]+ images by log p\(x\)$"))
    heading = page.get_by_text(re.compile(r"^The \d+ least likely images$"))
    expect(start.or_(heading).first).to_be_visible()
    wait_for_app_run(page)
    if start.count():
        start.click()
    expect(heading).to_be_visible()


def lasso_digits_webgl_map(page: Page, app_server: str, half: float):
    """Open the Latent map of digits-2d (the WebGL map of its 300 test points, a tall window) and, once the map's
    own rerun has ended, lasso the square [-half, half]^2 of its normalised coordinates; the map's Playwright frame
    once the selection has been made."""
    page.set_viewport_size({"width": 1400, "height": 1600})
    goto_page(page, app_server, "latent_map?model=digits-2d")
    wait_scatter(page, "s.painted() > 0 && s.count() === 300")
    wait_for_app_run(page)      # the map's "drawn" report reruns the page: act once that rerun has ended
    frame = next(f for f in page.frames if "webgl_scatter" in f.url and not f.is_detached())
    seq = frame.evaluate("() => window.__scatter.selectSeq()")
    frame.evaluate("(v) => window.__scatter.lasso(v)", [[-half, -half], [half, -half], [half, half], [-half, half]])
    frame.wait_for_function(f"() => window.__scatter.selectSeq() > {seq}")
    return frame


def likelihood_first_column(page: Page, app_server: str, height: int = 1600):
    """Open the Likelihood page of digits-2d (a window `height` px tall), rank it (a ranking this server has already
    made is shown at once) and return its first gallery column (the least likely image) once every column of both
    galleries (least and most likely) shows its caption and its Posterior link. Read sooner, the first caption and
    the first link disagreed under load: an image's caption is drawn once its picture has loaded, and a column's
    links may come after a later column's, so "the first column with an image" moved while the page filled in."""
    import re

    page.set_viewport_size({"width": 1400, "height": height})
    goto_page(page, app_server, "likelihood?model=digits-2d")
    rank_likelihood(page)
    heading = page.get_by_text(re.compile(r"^The \d+ least likely images$"))
    expect(heading).to_be_visible()
    wait_for_app_run(page)
    shown = 2 * int(re.search(r"\d+", heading.inner_text()).group())
    main = page.get_by_test_id("stMainBlockContainer")
    columns = main.get_by_test_id("stColumn").filter(has=page.get_by_test_id("stImageCaption"))
    expect(columns.filter(has=page.get_by_role("link", name="Posterior"))).to_have_count(shown)
    return columns.first

def record_traffic(page: Page, base_url: str) -> tuple[list[str], list[str], list[str]]:
    """Lists that fill as the page runs: outside requests, failed responses (>= 400) and console errors (none
    ignored): tests/e2e/test_app_pages.py's every-page walk, and the pages that train (test_live_map.py,
    test_app_train.py)."""
    own = urlparse(base_url).netloc
    outside: list[str] = []
    failed: list[str] = []
    errors: list[str] = []

    def on_request(req):
        u = urlparse(req.url)
        if u.scheme in ("data", "blob", "about"):
            return
        if u.netloc != own:
            outside.append(req.url)

    page.on("request", on_request)
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url} {r.failure}"))
    return outside, failed, errors
