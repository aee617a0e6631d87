"""Session teardown of the e2e servers: serial close (before) vs terminate-all-then-close (after), N servers
that served one page each.   python bench/server_close.py [N]"""
import sys, time, urllib.request
sys.path.insert(0, ".")
from tests.e2e.conftest import StreamlitServer

N = int(sys.argv[1]) if len(sys.argv) > 1 else 4

def started():
    servers = [StreamlitServer("app.py") for _ in range(N)]
    for s in servers:
        urllib.request.urlopen(s.url, timeout=60).read()
    return servers

rows = []
for mode in ("serial", "all-at-once", "serial", "all-at-once"):
    servers = started()
    t = time.monotonic()
    if mode == "all-at-once":
        for s in servers:
            s.terminate()
    for s in servers:
        s.close()
    rows.append((mode, time.monotonic() - t))
for mode, sec in rows:
    print(f"| {mode:<12} | {N} servers | {sec:6.2f} s |")
