"""tests.processes.alive: a running child, its zombie, and a reaped pid."""
import signal
import subprocess
import sys
import time

import pytest

from tests.processes import alive
from tests.waits import HANG_S

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")


def test_a_child_is_alive_until_it_dies_and_a_zombie_or_reaped_pid_is_not():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert alive(child.pid)
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + HANG_S         # dead but not yet waited for: a zombie
        while alive(child.pid):
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        child.kill()
        child.wait()
    assert not alive(child.pid)                      # reaped: /proc/PID is gone, which is no error
