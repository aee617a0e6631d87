"""The e2e fixtures' server logs: a failing test's report ends with the log of every server still running
(a traceback seen only in CI says where it came from), and a closed server leaves no log behind in /tmp."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO

pytest_plugins = ["pytester"]

INNER_APP = 'import streamlit as st\nst.write("inner")\n'


def test_a_failing_test_reports_its_servers_logs_and_a_closed_server_deletes_its_log(pytester: pytest.Pytester):
    pytester.makefile(".py", inner_app=INNER_APP)
    pytester.makeconftest(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from tests.e2e.conftest import pytest_runtest_makereport  # noqa: F401  (the hook under test)
    """))
    pytester.makepyfile(test_inner=textwrap.dedent("""
        from pathlib import Path
        from tests.e2e.conftest import StreamlitServer

        def test_fails_with_a_server_up():
            server = StreamlitServer(Path("inner_app.py").resolve())
            Path("log-path.txt").write_text(server.log.name)
            try:
                assert False, "the inner test fails on purpose"
            finally:
                server.close()            # closed in the test: its log is still reported, then deleted

        def test_a_closed_server_deletes_its_log():
            server = StreamlitServer(Path("inner_app.py").resolve())
            Path("log-path-2.txt").write_text(server.log.name)
            server.close()
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", "-o", "addopts=")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert re.search(r"streamlit server http://127\.0\.0\.1:\d+ \S*inner_app\.py: its log's last 80 lines", out), out
    assert "You can now view your Streamlit app" in out, out       # streamlit's own first lines, from the log
    for name in ("log-path.txt", "log-path-2.txt"):
        assert not Path((pytester.path / name).read_text()).exists(), name
