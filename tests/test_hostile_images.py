"""Hostile images (issues 14 and 15): FIFOs and other special files in a named folder, zip bombs
in image zips, uploads extreme in shape or size, 16-bit PNGs, and messages that would reveal
server paths. Memory is judged by the peak RSS of a capped subprocess (tests/hostile.py), never by
time; a hang is caught by waiting on a thread with a generous limit, never by a sleep.
"""

from __future__ import annotations

import io
import os
import socket
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.hostile import bzip2_zeros, deflate_zeros, raw_zip
from vae.data import DataError, load_image_folder
from vae.data.images import open_image, read_image_folder



def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, "PNG")
    return buf.getvalue()


def _finishes(fn, limit_s: float = 120.0):
    """Run fn in a thread; return (finished, exception). A hang shows as finished=False."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001
            box["error"] = e
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(limit_s)
    return not t.is_alive(), box.get("error")


def _folder(tmp_path: Path, n: int = 3) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(n):
        (folder / f"{i}.png").write_bytes(_png(np.full((8, 8), 40 * i, np.uint8)))
    return folder


# ------------------------------------------------------------------------------------ special files

def test_a_fifo_in_a_named_folder_is_refused_without_hanging(tmp_path):
    folder = _folder(tmp_path)
    os.mkfifo(folder / "pipe.png")
    finished, error = _finishes(lambda: load_image_folder(folder, image_size=8))
    if not finished:                              # unblock the reader so the test process can end
        with open(folder / "pipe.png", "wb"):
            pass
    assert finished, "reading a folder holding a FIFO hung"
    assert isinstance(error, DataError) and "imgs: pipe.png is a FIFO, not a regular file" in str(error)


def test_a_socket_in_a_named_folder_is_refused(tmp_path):
    folder = _folder(tmp_path)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "s.png"))
    try:
        with pytest.raises(DataError, match="s.png is a socket, not a regular file"):
            load_image_folder(folder, image_size=8)
    finally:
        sock.close()


def test_a_fifo_named_as_an_idx_file_is_refused_without_hanging(tmp_path):
    from vae.data.idx import read_idx

    os.mkfifo(tmp_path / "train-images-idx3-ubyte")
    finished, error = _finishes(lambda: read_idx(tmp_path / "train-images-idx3-ubyte"))
    if not finished:
        with open(tmp_path / "train-images-idx3-ubyte", "wb"):
            pass
    assert finished and isinstance(error, DataError) and "FIFO" in str(error)


def test_a_gzip_bomb_idx_file_is_refused(tmp_path, monkeypatch):
    import gzip

    from vae.data import idx

    monkeypatch.setattr(idx, "MAX_IDX_BYTES", 1 << 20)
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(bytes(16 << 20)))
    with pytest.raises(DataError, match="inflates to more than 1 MiB"):
        idx.read_idx(tmp_path / "bomb.gz")


# ------------------------------------------------------------------------------------ messages

def test_messages_name_files_inside_the_folder_not_server_paths(tmp_path):
    folder = _folder(tmp_path)
    big = folder / "sub" / "huge.png"
    big.parent.mkdir()
    with open(big, "wb") as f:
        f.truncate(65 << 20)                      # sparse: 65 MiB on paper, nothing on disk
    with pytest.raises(DataError) as err:
        load_image_folder(folder, image_size=8)
    assert str(err.value) == "imgs: sub/huge.png is larger than 64 MiB"
    assert str(tmp_path) not in str(err.value)
    big.unlink()
    (folder / "sub" / "bad.png").write_bytes(b"not an image")
    with pytest.raises(DataError) as err:
        load_image_folder(folder, image_size=8)
    assert str(err.value).startswith("imgs: sub/bad.png: not an image") and str(tmp_path) not in str(err.value)


# ------------------------------------------------------------------------------------ capped cases

# Each case of the bounded-memory tests runs as tests/hostile.run_capped runs one (the address space capped at
# what the process had mapped after its imports plus cap_mb, the peak RSS reset just before the case and its
# growth reported), but all cases share one interpreter: it imports vae once, then forks a child per case (a
# real process of its own, capped and measured alone). One import of torch instead of one per case.
_FORKED_CASES = r'''
import json, os, resource, sys
from pathlib import Path
import vae.data
from vae.data import load_image_folder
from vae.ui.posterior import image_from_bytes


def _status_kb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])


def case(code, cap_mb):
    cap = _status_kb("VmSize") * 1024 + cap_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        peak = lambda: _status_kb("VmHWM")
    except OSError:
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    before = _status_kb("VmRSS") if peak() == _status_kb("VmHWM") else peak()
    result = {"error": None, "message": None, "value": None}
    try:
        exec(code, {"Path": Path, "load_image_folder": load_image_folder, "image_from_bytes": image_from_bytes,
                    "result": result})
    except BaseException as e:
        result["error"] = type(e).__name__
        result["message"] = str(e)[:2000]
    result["peak_growth_mb"] = (peak() - before) / 1024
    return result


for name, code, cap_mb in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.write(write, json.dumps(case(code, cap_mb)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as out:
        said = out.read()
    _, status = os.waitpid(pid, 0)
    print("RESULT " + json.dumps({"name": name, "result": json.loads(said) if said else None, "status": status}),
          flush=True)
'''


@pytest.fixture(scope="module")
def capped(tmp_path_factory) -> dict[str, dict]:
    """name -> {"error", "message", "value", "peak_growth_mb"} of each bounded-memory case (see _FORKED_CASES)."""
    import json
    import subprocess
    import sys

    from tests.hostile import REPO
    from tests.waits import HANG_S

    tmp = tmp_path_factory.mktemp("capped")
    for kind, bomb in (("bzip2", ("b.png", bzip2_zeros(600 << 20), 12, 1000, 0)),
                       ("deflate-lying", ("b.png", deflate_zeros(600 << 20), 8, 1000, 0))):
        (tmp / kind).mkdir()
        (tmp / kind / "pics.zip").write_bytes(raw_zip([_png_member("a.png"), bomb]))
    wide = np.zeros((1000, 40000), np.uint8)          # 40000 x 1000 grey (40 M pixels, under the cap; 40 KB)
    wide[400:600, :] = 255
    (tmp / "wide.png").write_bytes(_png(wide))
    del wide
    (tmp / "line.png").write_bytes(_png(np.zeros((10, 4_000_000), np.uint8)))
    im = Image.new("RGBA", (6000, 6000), (0, 0, 0, 0))
    im.paste((255, 255, 255, 255), (2000, 2000, 4000, 4000))
    im.save(tmp / "big.png")
    del im
    cases = [(kind, f"load_image_folder(Path({str(tmp / kind / 'pics.zip')!r}), image_size=8)", 300)
             for kind in ("bzip2", "deflate-lying")]
    cases += [("wide", f"result['value'] = list(image_from_bytes(Path({str(tmp / 'wide.png')!r}).read_bytes(), "
                       "'wide.png', (1, 28, 28)).shape)", 700),
              ("line", f"image_from_bytes(Path({str(tmp / 'line.png')!r}).read_bytes(), 'line.png', (1, 28, 28))", 700),
              ("transparent", f"result['value'] = int(image_from_bytes(Path({str(tmp / 'big.png')!r}).read_bytes(), "
                              "'big.png', (1, 28, 28)).max())", 700)]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", _FORKED_CASES, json.dumps(cases)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=HANG_S * len(cases))     # a hang bound per case
    got = {}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            one = json.loads(line[len("RESULT "):])
            got[one["name"]] = one["result"]
            assert one["result"] is not None, f"case {one['name']} died (status {one['status']}): {proc.stderr[-3000:]}"
    assert sorted(got) == sorted(c[0] for c in cases), (proc.returncode, proc.stderr[-3000:])
    return got


# ------------------------------------------------------------------------------------ image zip bombs

def _png_member(name: str) -> tuple:
    data = _png(np.zeros((8, 8), np.uint8))
    return (name, zlib.compress(data)[2:-4], 8, len(data), zlib.crc32(data))


@pytest.mark.parametrize("kind, message", [
    ("bzip2", "compressed with bzip2; only stored and deflate"),
    ("deflate-lying", "inflates to more than the 1,000 bytes it declares"),
])
def test_image_zip_bombs_are_refused_in_bounded_memory(capped, kind, message):
    r = capped[kind]
    assert r["error"] == "DataError", r
    assert message in r["message"] and r["message"].startswith("pics.zip: "), r
    assert r["peak_growth_mb"] < 100, r


def test_an_lzma_image_zip_is_refused(tmp_path):
    import zipfile

    up = tmp_path / "pics.zip"
    with zipfile.ZipFile(up, "w", zipfile.ZIP_LZMA) as zf:
        zf.writestr("a.png", _png(np.zeros((8, 8), np.uint8)))
    with pytest.raises(DataError, match="compressed with lzma"):
        load_image_folder(up, image_size=8)


# ------------------------------------------------------------------------------------ shape and size bombs

def test_an_extremely_wide_upload_is_shrunk_first_in_bounded_memory(capped):
    r = capped["wide"]
    assert r["error"] is None, r
    assert r["value"] == [1, 28, 28]
    assert r["peak_growth_mb"] < 200, r           # the decoded file itself is 40 MB; before: 6.8 GB


def test_an_absurd_aspect_ratio_is_refused_with_a_message(capped):
    r = capped["line"]
    assert r["error"] == "ImageInputError", r
    assert "line.png: 4000000x10 pixels is too elongated (over 100:1)" in r["message"], r
    assert r["peak_growth_mb"] < 100, r


def test_a_large_transparent_upload_decodes_in_bounded_memory(capped):
    """6000 x 6000 RGBA, 36 M pixels (under the cap) but a few hundred KB: a decompression bomb for
    code that works at full size (float32 RGBA arrays of 576 MB each)."""
    r = capped["transparent"]
    assert r["error"] is None, r
    assert r["value"] > 200
    # the decoded RGBA file (144 MB) and Pillow's premultiplied copy for the box average: before, 1.2 GB
    # and a MemoryError under a 1.5 GB cap
    assert r["peak_growth_mb"] < 330, r


def test_a_pixel_bomb_is_refused_from_its_header(tmp_path):
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    with pytest.raises(DataError, match="bomb.png: .*decompression bomb"):
        open_image(io.BytesIO(png), "bomb.png")


# ------------------------------------------------------------------------------------ 16-bit

def test_16_bit_pngs_are_scaled_not_clipped():
    from vae.ui.posterior import image_from_bytes

    levels = np.arange(256, dtype=np.uint16) * 257             # 0 .. 65535 in 256 steps
    a = np.tile(levels, (256, 1))                               # (256, 256), left to right
    png = _png(a.astype(np.uint16))
    im = open_image(io.BytesIO(png), "deep.png")
    assert im.mode == "L"
    assert np.array_equal(np.asarray(im)[0], np.arange(256))
    x = image_from_bytes(png, "deep.png", (1, 16, 16), invert="no")
    row = x[0, 8].astype(int)
    assert row[0] < 20 and row[-1] > 235 and np.all(np.diff(row) > 0)     # a ramp, not a wall of 255


def test_16_bit_pngs_in_a_folder_are_scaled(tmp_path):
    folder = tmp_path / "deep"
    folder.mkdir()
    (folder / "a.png").write_bytes(_png(np.full((8, 8), 32896, np.uint16)))   # 128 * 257
    images = read_image_folder(folder, image_size=8).images
    assert int(images.min()) == int(images.max()) == 128
