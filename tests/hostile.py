"""Helpers for the hostile-input tests: zips that lie, and running a load in a subprocess whose
memory is capped, reporting its peak RSS.

`run_capped(code, cap_mb)` runs `code` in a fresh Python after `setup` (imports), with the address
space limited to what the process had mapped then plus `cap_mb` (RLIMIT_AS), so a bomb dies with
MemoryError instead of taking the machine; it reports how much the peak RSS grew while `code` ran
(VmHWM, reset just before through /proc/self/clear_refs; else ru_maxrss), and the exception it
raised, if any.
"""

from __future__ import annotations

import functools
import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_RUNNER = r'''
import json, resource, sys, traceback
{setup}
def _status_kb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
cap = _status_kb("VmSize") * 1024 + {cap_mb} * 2**20
resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
try:                        # reset the peak RSS (VmHWM) to the current RSS, so the growth is the case's own
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    peak = lambda: _status_kb("VmHWM")
except OSError:             # no clear_refs: the lifetime peak (may hide a case smaller than the imports' peak)
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
before = _status_kb("VmRSS") if peak() == _status_kb("VmHWM") else peak()
result = {{"error": None, "message": None, "value": None}}
try:
{code}
except BaseException as e:
    result["error"] = type(e).__name__
    result["message"] = str(e)[:2000]
result["peak_growth_mb"] = (peak() - before) / 1024
print("RESULT " + json.dumps(result))
'''


def run_capped(code: str, cap_mb: int, setup: str = "", timeout: float = 300, repo: Path = REPO) -> dict:
    """Run `code` (may set result["value"]) under a memory cap; returns {"error", "message", "value",
    "peak_growth_mb"}. `error` is the exception's class name (e.g. "CheckpointError", "MemoryError").
    `repo` is the checkout whose `vae` is imported (bench/hostile_memory.py passes an old one)."""
    script = _RUNNER.format(setup=textwrap.dedent(setup), cap_mb=int(cap_mb),
                            code=textwrap.indent(textwrap.dedent(code), "    "))
    env = dict(os.environ, PYTHONPATH=str(repo), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", script], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise AssertionError(f"the subprocess died (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def raw_zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip built by hand: (name, compressed data, method, declared uncompressed size, crc32) per
    member. The declared size and CRC may lie: that is the point."""
    out, central = bytearray(), bytearray()
    for name, data, method, size, crc in members:
        fname = name.encode()
        offset = len(out)
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data), size, len(fname), 0)
        out += fname + data
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(data), size,
                               len(fname), 0, 0, 0, 0, 0, offset) + fname
    cd_offset = len(out)
    out += central
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), cd_offset, 0)
    return bytes(out)


@functools.cache
def deflate_zeros(n_bytes: int) -> bytes:
    """Raw deflate of n_bytes zero bytes (about n_bytes / 1000 bytes), made without holding them; made once per
    process (600 MiB: 1.6 CPU s), as bzip2_zeros."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(1 << 20)
    parts = [c.compress(block) for _ in range(n_bytes >> 20)]
    parts.append(c.compress(bytes(n_bytes & ((1 << 20) - 1))))
    parts.append(c.flush())
    return b"".join(parts)


def result_json(r: dict) -> str:
    return json.dumps(r, indent=1)


@functools.cache
def bzip2_zeros(n_bytes: int) -> bytes:
    """bzip2 of n_bytes zero bytes (a few hundred bytes), made without holding them; made once per process
    (600 MiB: 3.5 CPU s; the image and the checkpoint bombs are the same bytes)."""
    import bz2

    c = bz2.BZ2Compressor(9)
    block = bytes(1 << 20)
    parts = [c.compress(block) for _ in range(n_bytes >> 20)]
    parts.append(c.compress(bytes(n_bytes & ((1 << 20) - 1))))
    parts.append(c.flush())
    return b"".join(parts)


def crc_zeros(n_bytes: int) -> int:
    """CRC-32 of n_bytes zero bytes, computed 1 MiB at a time."""
    crc, block = 0, bytes(1 << 20)
    for _ in range(n_bytes >> 20):
        crc = zlib.crc32(block, crc)
    return zlib.crc32(bytes(n_bytes & ((1 << 20) - 1)), crc)
