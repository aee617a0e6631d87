"""tests/e2e/helpers.wait_until_trained: waits as long as a progress bar moves, fails once it stands still."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import wait_until_trained

BAR = """<div id="bar">starting…</div><script>
let step = 0;
const tick = () => {{
  step += 1;
  const bar = document.getElementById('bar');
  if (step <= {moving}) bar.textContent = `running · step ${{step}}/{moving} · about ${{Math.random()}} s left`;
  else if ({finishes}) bar.textContent = 'finished · 4 epochs';
  else bar.textContent = `running · step {moving}/{moving} · about ${{Math.random()}} s left`;   // stuck, estimate moving
}};
setInterval(tick, 400);
</script>"""


def test_a_bar_that_keeps_moving_is_waited_for_past_the_stall_bound(page: Page):
    page.set_content(BAR.format(moving=12, finishes="true"))         # ~5 s of steps, then finished
    assert wait_until_trained(page.locator("#bar"), stall_ms=2_000) == "finished · 4 epochs"


def test_a_bar_whose_step_stands_still_fails(page: Page):
    page.set_content(BAR.format(moving=2, finishes="false"))
    with pytest.raises(AssertionError, match="has not moved for 2 s"):
        wait_until_trained(page.locator("#bar"), stall_ms=2_000)
