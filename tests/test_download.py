"""Tests for vae.data.download against a real HTTP server on 127.0.0.1, and MNIST loading through the cache."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from vae.data import DataError, default_cache_dir, download_file, load_dataset


@dataclass
class Route:
    body: bytes
    status: int = 200
    content_length: int | None = None  # None: len(body); larger than len(body) simulates a cut connection


@dataclass
class Server:
    url: str  # base URL, ending with "/"
    routes: dict[str, Route] = field(default_factory=dict)  # path without the leading "/" -> response
    hits: list[str] = field(default_factory=list)


@pytest.fixture
def server():
    """A threaded HTTP server on a free port of 127.0.0.1 serving ``server.routes``."""
    state = Server(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            name = self.path.lstrip("/")
            state.hits.append(name)
            route = state.routes.get(name, Route(b"not found", status=404))
            self.send_response(route.status)
            self.send_header("Content-Length", str(route.content_length if route.content_length is not None else len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)
            self.wfile.flush()
            self.close_connection = True  # then close: a short body is a cut connection

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


PAYLOAD = bytes(range(256)) * 1000  # 256 kB: several read chunks
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_good_file(server, tmp_path):
    server.routes["data.bin"] = Route(PAYLOAD)
    calls = []
    dest = tmp_path / "cache" / "sub" / "data.bin"
    out = download_file(server.url + "data.bin", dest, md5=PAYLOAD_MD5.upper(), sha256=PAYLOAD_SHA256,
                        progress=lambda done, total: calls.append((done, total)), timeout=5)
    assert out == dest and dest.read_bytes() == PAYLOAD
    assert os.listdir(dest.parent) == ["data.bin"]  # no temporary file left
    assert calls[0] == (0, len(PAYLOAD)) and calls[-1] == (len(PAYLOAD), len(PAYLOAD)) and len(calls) > 2
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))


def test_download_wrong_checksum_leaves_nothing(server, tmp_path):
    server.routes["data.bin"] = Route(PAYLOAD)
    dest = tmp_path / "data.bin"
    with pytest.raises(DataError, match=rf"{server.url}data\.bin: md5 checksum mismatch, expected 0+, got {PAYLOAD_MD5}"):
        download_file(server.url + "data.bin", dest, md5="0" * 32, timeout=5)
    with pytest.raises(DataError, match="sha256 checksum mismatch"):
        download_file(server.url + "data.bin", dest, sha256="f" * 64, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_download_cut_connection_leaves_nothing(server, tmp_path):
    half = PAYLOAD[: len(PAYLOAD) // 2]
    server.routes["data.bin"] = Route(half, content_length=len(PAYLOAD))
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"previous good copy")
    with pytest.raises(DataError, match=rf"data\.bin: download cut short.* {len(half)} .*bytes"):
        download_file(server.url + "data.bin", dest, timeout=5)
    assert dest.read_bytes() == b"previous good copy"  # the old file is untouched, no partial file beside it
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_download_http_errors(server, tmp_path):
    with pytest.raises(DataError, match=rf"{server.url}missing\.bin: HTTP error 404"):
        download_file(server.url + "missing.bin", tmp_path / "missing.bin", timeout=5)
    server.routes["boom"] = Route(b"oops", status=500)
    with pytest.raises(DataError, match="boom: HTTP error 500"):
        download_file(server.url + "boom", tmp_path / "boom", timeout=5)
    with pytest.raises(DataError, match="unsupported URL scheme 'ftp'"):
        download_file("ftp://127.0.0.1/x", tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_download_connection_refused(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match=rf"http://127\.0\.0\.1:{port}/x: cannot connect"):
        download_file(f"http://127.0.0.1:{port}/x", tmp_path / "x", timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("VAE_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "xdg" / "vae-explorer"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "vae-explorer"


def _serve(server: Server, folder: Path, prefix: str = "") -> None:
    for path in folder.iterdir():
        server.routes[prefix + path.name] = Route(path.read_bytes())


def test_load_mnist_downloads_into_cache(server, tmp_path, fake_mnist):
    folder, md5, arrays = fake_mnist
    _serve(server, folder, prefix="mirror/")
    cache = tmp_path / "cache"
    calls = []
    mirrors = [server.url + "dead/", server.url + "mirror"]  # the first mirror 404s, the second serves
    ds = load_dataset("mnist", cache_dir=cache, mirrors=mirrors, checksums=md5, progress=lambda d, t: calls.append((d, t)))
    assert (len(ds.train), len(ds.test)) == (50, 20) and ds.image_shape == (1, 28, 28)
    np.testing.assert_array_equal(ds.train.images[:, 0].numpy(), arrays["train-images-idx3-ubyte.gz"])
    assert torch.equal(ds.test.labels, torch.arange(20) % 10)
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(md5)
    assert calls and all(t > 0 for _, t in calls)

    # cached now: a second load makes no request, even with downloading off
    server.hits.clear()
    again = load_dataset("mnist", cache_dir=cache, mirrors=mirrors, checksums=md5, download=False)
    assert server.hits == [] and torch.equal(again.train.images, ds.train.images)

    # a corrupted cache file is noticed (md5) and downloaded again
    (cache / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    load_dataset("mnist", cache_dir=cache, mirrors=mirrors, checksums=md5)
    assert server.hits == ["dead/t10k-labels-idx1-ubyte.gz", "mirror/t10k-labels-idx1-ubyte.gz"]


def test_load_mnist_mirror_from_environment(server, tmp_path, fake_mnist, monkeypatch):
    folder, md5, _ = fake_mnist
    _serve(server, folder)
    monkeypatch.setenv("VAE_FASHION_MNIST_MIRROR", server.url)
    ds = load_dataset("fashion-mnist", cache_dir=tmp_path / "cache", checksums=md5)
    assert ds.name == "fashion-mnist" and ds.class_names[0] == "T-shirt/top"
    assert (tmp_path / "cache" / "fashion-mnist" / "train-images-idx3-ubyte.gz").is_file()


def test_load_mnist_official_checksums_refuse_other_files(server, tmp_path, fake_mnist):
    folder, _, _ = fake_mnist
    _serve(server, folder)
    with pytest.raises(DataError, match=r"mnist: could not download train-images-idx3-ubyte\.gz [\s\S]*md5 checksum mismatch, "
                                        r"expected f68b3c2dcbeaaa9fbdd348bbdeb94873[\s\S]*data_dir="):
        load_dataset("mnist", cache_dir=tmp_path / "cache", mirrors=[server.url])
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


def test_load_mnist_not_cached_and_download_off(tmp_path):
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz is not in the cache, and download=False"):
        load_dataset("mnist", cache_dir=tmp_path, download=False)
