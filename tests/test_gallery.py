"""The gallery store: publish / list / rename / delete, owners, limits, restart, concurrency, killed publishes."""

from __future__ import annotations

import multiprocessing as mp
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from vae.gallery import Gallery, GalleryError, GalleryRefused, owner_hash
from vae.gallery.store import DB_FILE

REPO = Path(__file__).resolve().parents[1]


def _files(seed: int, size: int = 1000) -> dict[str, bytes]:
    return {"config.json": f'{{"seed": {seed}}}'.encode(), "model.safetensors": bytes([seed % 256]) * size}


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "blobs").iterdir())


def test_publish_list_get_files_and_restart(tmp_path):
    g = Gallery(tmp_path)
    e = g.publish(_files(1), name="  first   model ", note="hi", owner_token="tok-a", dataset="digits",
                  architecture="mlp", elbo=-30.5, iwae=-29.0, iwae_k=100, n_test=500)
    assert e.name == "first model" and e.owner_hash == owner_hash("tok-a")
    assert "tok-a" not in (tmp_path / DB_FILE).read_bytes().decode("latin-1")       # never the token itself
    assert g.files(e.id) == _files(1)
    assert (tmp_path / "blobs" / e.content / "model.safetensors").read_bytes() == _files(1)["model.safetensors"]
    g2 = Gallery(tmp_path)                 # a server restart: a new Gallery on the same folder
    assert [x.id for x in g2.list()] == [e.id]
    assert g2.get(e.id).iwae == -29.0 and g2.list(dataset="mnist") == []
    assert g2.files(e.id) == _files(1)


def test_only_owner_renames_and_deletes_operator_deletes_anything(tmp_path):
    g = Gallery(tmp_path)
    e = g.publish(_files(1), name="a", owner_token="tok-a")
    with pytest.raises(GalleryRefused, match="only the owner"):
        g.rename(e.id, "stolen", "tok-b")
    with pytest.raises(GalleryRefused, match="only the owner"):
        g.delete(e.id, "tok-b")
    with pytest.raises(GalleryRefused):
        g.delete(e.id, None)
    assert g.rename(e.id, "renamed", "tok-a").name == "renamed"
    e2 = g.publish(_files(2), name="b", owner_token="tok-b")
    g.delete(e.id, "tok-a")
    g.delete(e2.id, None, operator=True)
    assert g.list() == [] and _leftovers(tmp_path) == []
    with pytest.raises(GalleryError, match="no gallery entry"):
        g.get(e.id)


def test_identical_content_shares_one_folder_until_the_last_entry_goes(tmp_path):
    g = Gallery(tmp_path)
    a = g.publish(_files(7), name="a", owner_token="x")
    b = g.publish(_files(7), name="b", owner_token="y")
    assert a.content == b.content and len(_leftovers(tmp_path)) == 1
    g.delete(a.id, "x")
    assert g.files(b.id) == _files(7)
    g.delete(b.id, "y")
    assert _leftovers(tmp_path) == []


def test_bad_input_is_refused_with_one_line_and_nothing_written(tmp_path):
    g = Gallery(tmp_path)
    for kwargs, match in [(dict(name=""), "needs a name"), (dict(name="x" * 81), "at most 80"),
                          (dict(name="ok", owner_token=""), "no owner")]:
        with pytest.raises(GalleryError, match=match):
            g.publish(_files(1), **{"owner_token": "t", **kwargs})
    with pytest.raises(GalleryError, match="model.safetensors"):
        g.publish({"config.json": b"{}"}, name="x", owner_token="t")
    assert g.list() == [] and _leftovers(tmp_path) == []


def test_limits_refuse_with_a_message_and_write_nothing(tmp_path, monkeypatch):
    g = Gallery(tmp_path)
    monkeypatch.setenv("VAE_GALLERY_MAX_PER_OWNER", "2")
    g.publish(_files(1), name="1", owner_token="a")
    g.publish(_files(2), name="2", owner_token="a")
    with pytest.raises(GalleryRefused, match="VAE_GALLERY_MAX_PER_OWNER = 2") as e:
        g.publish(_files(3), name="3", owner_token="a")
    assert "\n" not in str(e.value)
    g.publish(_files(3), name="3", owner_token="b")            # another owner still may
    monkeypatch.setenv("VAE_GALLERY_MAX_MODEL_MB", str(500 / 2**20))
    with pytest.raises(GalleryRefused, match="VAE_GALLERY_MAX_MODEL_MB"):
        g.publish(_files(4), name="4", owner_token="c")
    monkeypatch.delenv("VAE_GALLERY_MAX_MODEL_MB")
    monkeypatch.setenv("VAE_GALLERY_MAX_TOTAL_MB", str(3500 / 2**20))
    with pytest.raises(GalleryRefused, match="gallery is full"):
        g.publish(_files(5), name="5", owner_token="c")
    assert sorted(e.name for e in g.list()) == ["1", "2", "3"] and len(_leftovers(tmp_path)) == 3


def test_ten_threads_publishing_at_once_lose_nothing(tmp_path):
    g = Gallery(tmp_path)
    errors: list[BaseException] = []
    barrier = threading.Barrier(10)

    def publish(i: int) -> None:
        try:
            barrier.wait()
            Gallery(tmp_path).publish(_files(i, 20_000), name=f"t{i}", owner_token=f"owner-{i}", dataset="digits")
        except BaseException as e:  # noqa: BLE001 - collected and checked below
            errors.append(e)

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    entries = g.list()
    assert sorted(e.name for e in entries) == sorted(f"t{i}" for i in range(10))
    for e in entries:
        assert g.files(e.id) == _files(int(e.name[1:]), 20_000)


def _publish_in_process(root: str, i: int, start) -> None:
    start.wait()
    Gallery(root).publish(_files(100 + i, 50_000), name=f"p{i}", owner_token=f"proc-{i}")


def test_the_gallery_store_imports_no_torch():
    """A publish writes bytes it is handed: torch (1.5 CPU-s a process) is not needed, and each of the ten
    processes below paid it for one helper (vae.checkpoint's durable write, now in vae.safeio.durable)."""
    code = "import sys, vae.gallery; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_ten_processes_publishing_at_once_lose_nothing(tmp_path):
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_publish_in_process, args=(str(tmp_path), i, start)) for i in range(10)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0] * 10
    g = Gallery(tmp_path)
    assert sorted(e.name for e in g.list()) == sorted(f"p{i}" for i in range(10))
    assert len(_leftovers(tmp_path)) == 10


_KILLER = """
import os, signal, sys
import vae.gallery.store as store
point = sys.argv[2]
def checkpoint(where):
    if where == point:
        os.kill(os.getpid(), signal.SIGKILL)
store._checkpoint = checkpoint
g = store.Gallery(sys.argv[1])
g.publish({"config.json": b"{}", "model.safetensors": b"w" * 200_000, "metrics.jsonl": b"{}\\n"},
          name="killed", owner_token="k")
print("not killed")
"""


@pytest.mark.parametrize("point", ["temp_made", "wrote config.json", "wrote model.safetensors", "renamed",
                                   "inserted"])
def test_a_publish_killed_halfway_leaves_no_entry_and_no_orphan(tmp_path, point):
    g = Gallery(tmp_path)
    keep = g.publish(_files(1), name="kept", owner_token="a")
    r = subprocess.run([sys.executable, "-c", _KILLER, str(tmp_path), point], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert _leftovers(tmp_path) != [keep.content]     # the kill left a temp folder or an unreferenced blob
    g2 = Gallery(tmp_path)                       # the next opening (a restart) sweeps
    assert [e.name for e in g2.list()] == ["kept"]
    assert _leftovers(tmp_path) == [keep.content]
    assert g2.files(keep.id) == _files(1)


def test_a_publish_killed_after_commit_is_whole(tmp_path):
    r = subprocess.run([sys.executable, "-c", _KILLER, str(tmp_path), "committed"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr
    g = Gallery(tmp_path)
    [e] = g.list()
    assert e.name == "killed" and g.files(e.id)["model.safetensors"] == b"w" * 200_000


def test_cli_list_delete_export_publish(tmp_path, capsys):
    from vae.cli import main

    gdir = tmp_path / "g"
    assert main(["gallery", "--dir", str(gdir), "publish", str(REPO / "assets" / "digits-2d"), "--name", "d2"]) == 0
    assert "published" in capsys.readouterr().out
    [e] = Gallery(gdir).list()
    assert e.dataset == "digits" and e.iwae is not None and e.elbo <= e.iwae + 1.0
    assert main(["gallery", "--dir", str(gdir), "list"]) == 0
    assert e.id in capsys.readouterr().out
    out = tmp_path / "exported"
    assert main(["gallery", "--dir", str(gdir), "export", e.id, "--out", str(out)]) == 0
    assert (out / "model.safetensors").read_bytes() == (REPO / "assets/digits-2d/model.safetensors").read_bytes()
    assert main(["gallery", "--dir", str(gdir), "export", e.id, "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["gallery", "--dir", str(gdir), "delete", e.id]) == 0
    assert Gallery(gdir).list() == [] and _leftovers(gdir) == []
    assert main(["gallery", "--dir", str(gdir), "delete", e.id]) == 2
    assert "no gallery entry" in capsys.readouterr().err
