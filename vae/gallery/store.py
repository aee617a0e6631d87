"""The gallery: published models shared by everyone on one server, kept across restarts.

    g = Gallery(gallery_dir())                         # $VAE_GALLERY_DIR, else ~/.cache/vae-explorer/gallery
    entry = g.publish(files, name="beta 4", note="", owner_token=token, dataset="digits",
                      architecture="mlp 64-d 2-d", elbo=-30.1, iwae=-28.7)
    g.list(dataset="digits")                           # [Entry], newest first
    g.rename(entry.id, "beta 4, 40 epochs", token); g.delete(entry.id, token)
    g.files(entry.id)                                   # {"config.json": bytes, "model.safetensors": bytes, ...}

On disk, under the gallery folder:

    gallery.sqlite3        one row per entry (SQLite in WAL mode: readers never wait for a writer)
    blobs/<sha256>/        the checkpoint files of one content (config.json, model.safetensors, metrics.jsonl);
                           entries with the same bytes share one folder
    blobs/.tmp-*           a publish under way (or one killed): removed by `sweep()`
    .lock                  an exclusive file lock held by each publish, delete and sweep (across processes)

A publish is atomic: files are written into a temporary folder and fsynced, the folder is renamed to its
content address and the parent fsynced, then the row is inserted in one transaction. A process killed at
any instant leaves either the whole entry or, after the next `sweep()` (every publish and every opening of
a Gallery runs one, under the lock), nothing: no row and no file. Limits (entries per owner, total size,
model size) are checked before anything is written; over a limit, GalleryRefused says which, in one line.

Only a hash of the owner's secret token is stored (`owner_hash`), never the token itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import os
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from vae.gallery.limits import limit_bytes, limit_count
from vae.safeio.durable import write_durably   # create, write whole, fsync

CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE = "config.json", "model.safetensors", "metrics.jsonl"
FILES = (CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE)
DB_FILE = "gallery.sqlite3"
MAX_NAME = 80
MAX_NOTE = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,            -- 10 hex digits, random
    name TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    owner_hash TEXT NOT NULL,       -- sha256 of the owner's secret token, never the token
    dataset TEXT,                   -- the data set the figures are measured on (None: unknown)
    architecture TEXT,
    elbo REAL,                      -- test ELBO, nats per image (a log-density: higher is better)
    iwae REAL,                      -- IWAE estimate of test log p(x), nats per image
    iwae_k INTEGER,                 -- importance samples of that estimate
    n_test INTEGER,                 -- test images the figures average over
    created REAL NOT NULL,          -- unix seconds
    size INTEGER NOT NULL,          -- bytes of the checkpoint files
    content TEXT NOT NULL           -- sha256 of the files: the folder blobs/<content>/
);
CREATE INDEX IF NOT EXISTS entries_owner ON entries(owner_hash);
CREATE INDEX IF NOT EXISTS entries_content ON entries(content);
"""


class GalleryError(ValueError):
    """A gallery operation that cannot be done; the message is one line, with no server path."""


class GalleryRefused(GalleryError):
    """Over a limit, or not the owner: nothing was written."""


@dataclass(frozen=True)
class Entry:
    """One published model (a row of `entries`)."""

    id: str
    name: str
    note: str
    owner_hash: str
    dataset: str | None
    architecture: str | None
    elbo: float | None           # nats per image
    iwae: float | None           # nats per image
    iwae_k: int | None
    n_test: int | None
    created: float               # unix seconds
    size: int                    # bytes
    content: str                 # sha256 hex

    def owned_by(self, token: str | None) -> bool:
        return bool(token) and secrets.compare_digest(self.owner_hash, owner_hash(token))


def owner_hash(token: str) -> str:
    """What the gallery stores of an owner's secret token (64 hex digits)."""
    return hashlib.sha256(f"vae-gallery-owner:{token}".encode()).hexdigest()


def gallery_dir() -> Path:
    """The gallery folder: $VAE_GALLERY_DIR, else $VAE_CACHE_DIR/gallery, else ~/.cache/vae-explorer/gallery."""
    raw = os.environ.get("VAE_GALLERY_DIR", "").strip()
    if raw:
        return Path(raw).expanduser()
    cache = os.environ.get("VAE_CACHE_DIR", "").strip()
    return (Path(cache).expanduser() if cache else Path.home() / ".cache" / "vae-explorer") / "gallery"


def content_hash(files: dict[str, bytes]) -> str:
    """sha256 over the checkpoint's files (names and bytes, in a fixed order): the blob folder's name."""
    h = hashlib.sha256()
    for name in FILES:
        if name in files:
            data = files[name]
            h.update(f"{name}\0{len(data)}\0".encode())
            h.update(data)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)




def _checkpoint(where: str) -> None:
    """A named instant of a publish (tests replace this to kill the process there)."""


class Gallery:
    """The gallery under folder `root` (created when missing). Safe across threads and processes."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        with self._locked(), self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            self._sweep(db)

    # ------------------------------------------------------------------------------------- plumbing
    @contextlib.contextmanager
    def _db(self):
        db = sqlite3.connect(self.root / DB_FILE, timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=60000")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _locked(self):
        """An exclusive lock across threads and processes (flock on a fresh descriptor per holder)."""
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _sweep(self, db: sqlite3.Connection) -> list[str]:
        """Remove temporary folders and blobs no entry refers to (call under the lock). Returns their names."""
        used = {row[0] for row in db.execute("SELECT DISTINCT content FROM entries")}
        removed = []
        for p in self.blobs.iterdir():
            if p.name.startswith(".tmp-") or (p.is_dir() and p.name not in used):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                removed.append(p.name)
        if removed:
            _fsync_dir(self.blobs)
        return removed

    def sweep(self) -> list[str]:
        """Remove leftovers of killed publishes and deletes; the names removed."""
        with self._locked(), self._db() as db:
            return self._sweep(db)

    # ------------------------------------------------------------------------------------- reading
    def list(self, dataset: str | None = None) -> list[Entry]:
        """Entries, newest first; only those measured on `dataset` when given."""
        with self._db() as db:
            sql, args = "SELECT * FROM entries", ()
            if dataset is not None:
                sql, args = sql + " WHERE dataset = ?", (dataset,)
            return [Entry(*row) for row in db.execute(sql + " ORDER BY created DESC, id", args)]

    def get(self, entry_id: str) -> Entry:
        with self._db() as db:
            row = db.execute("SELECT * FROM entries WHERE id = ?", (str(entry_id),)).fetchone()
        if row is None:
            raise GalleryError(f"no gallery entry {str(entry_id)[:20]!r}")
        return Entry(*row)

    def path(self, entry_id: str) -> Path:
        """The folder holding the entry's checkpoint files (read only: shared with identical entries)."""
        return self.blobs / self.get(entry_id).content

    def files(self, entry_id: str) -> dict[str, bytes]:
        folder = self.path(entry_id)
        return {name: (folder / name).read_bytes() for name in FILES if (folder / name).is_file()}

    def total_size(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()[0])

    # ------------------------------------------------------------------------------------- writing
    def publish(self, files: dict[str, bytes], *, name: str, owner_token: str, note: str = "",
                dataset: str | None = None, architecture: str | None = None, elbo: float | None = None,
                iwae: float | None = None, iwae_k: int | None = None, n_test: int | None = None) -> Entry:
        """Add a checkpoint (its files' bytes) as a new entry owned by `owner_token`'s holder.

        Raises GalleryError for a bad name or missing files and GalleryRefused over a limit; in both
        cases nothing is written.
        """
        name, note = _clean_name(name), str(note or "").strip()[:MAX_NOTE]
        if not owner_token:
            raise GalleryError("no owner: publishing needs the browser's owner token")
        files = {k: bytes(v) for k, v in files.items() if k in FILES}
        if CONFIG_FILE not in files or WEIGHTS_FILE not in files:
            raise GalleryError(f"a checkpoint needs {CONFIG_FILE} and {WEIGHTS_FILE}")
        size = sum(len(v) for v in files.values())
        max_model = limit_bytes("VAE_GALLERY_MAX_MODEL_MB")
        if size > max_model:
            raise GalleryRefused(f"this model is {size / 2**20:.1f} MB; the gallery takes models up to "
                                 f"{max_model / 2**20:.0f} MB (VAE_GALLERY_MAX_MODEL_MB)")
        content = content_hash(files)
        who = owner_hash(owner_token)
        with self._locked(), self._db() as db:
            self._sweep(db)
            n_own = db.execute("SELECT COUNT(*) FROM entries WHERE owner_hash = ?", (who,)).fetchone()[0]
            max_own = limit_count("VAE_GALLERY_MAX_PER_OWNER")
            if n_own >= max_own:
                raise GalleryRefused(f"you have {n_own} models in the gallery, the most one person may publish "
                                     f"(VAE_GALLERY_MAX_PER_OWNER = {max_own}); delete one first")
            total = db.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()[0]
            max_total = limit_bytes("VAE_GALLERY_MAX_TOTAL_MB")
            if total + size > max_total:
                raise GalleryRefused(f"the gallery is full ({total / 2**20:.1f} of {max_total / 2**20:.0f} MB, "
                                     f"VAE_GALLERY_MAX_TOTAL_MB); ask the operator to make room")
            final = self.blobs / content
            if not final.is_dir():
                tmp = self.blobs / f".tmp-{secrets.token_hex(8)}"
                tmp.mkdir()
                _checkpoint("temp_made")
                for fname, data in files.items():
                    write_durably(tmp / fname, data)
                    _checkpoint(f"wrote {fname}")
                _fsync_dir(tmp)
                os.rename(tmp, final)
                _fsync_dir(self.blobs)
                _checkpoint("renamed")
            entry = Entry(secrets.token_hex(5), name, note, who, dataset, architecture,
                          _num(elbo), _num(iwae), iwae_k, n_test, time.time(), size, content)
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", entry_row(entry))
                _checkpoint("inserted")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                self._sweep(db)
                raise
            _checkpoint("committed")
            return entry

    def rename(self, entry_id: str, name: str, owner_token: str | None, *, operator: bool = False) -> Entry:
        """Rename an entry; only its owner may (GalleryRefused otherwise), or the operator (`operator=True`)."""
        name = _clean_name(name)
        with self._locked(), self._db() as db:
            self._owned(db, entry_id, owner_token, "rename", operator=operator)
            db.execute("UPDATE entries SET name = ? WHERE id = ?", (name, entry_id))
        return self.get(entry_id)

    def delete(self, entry_id: str, owner_token: str | None, *, operator: bool = False) -> Entry:
        """Delete an entry (and its files, when no other entry shares them). Only its owner may,
        or the operator (`operator=True`, the command line)."""
        with self._locked(), self._db() as db:
            entry = self._owned(db, entry_id, owner_token, "delete", operator=operator)
            db.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
            self._sweep(db)
        return entry

    def _owned(self, db, entry_id: str, token: str | None, verb: str, operator: bool = False) -> Entry:
        row = db.execute("SELECT * FROM entries WHERE id = ?", (str(entry_id),)).fetchone()
        if row is None:
            raise GalleryError(f"no gallery entry {str(entry_id)[:20]!r}")
        entry = Entry(*row)
        if not operator and not entry.owned_by(token):
            raise GalleryRefused(f"only the owner of {entry.name!r} can {verb} it")
        return entry


def entry_row(e: Entry) -> tuple:
    return (e.id, e.name, e.note, e.owner_hash, e.dataset, e.architecture, e.elbo, e.iwae, e.iwae_k, e.n_test,
            e.created, e.size, e.content)


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _clean_name(name: str) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise GalleryError("a gallery entry needs a name")
    if len(text) > MAX_NAME:
        raise GalleryError(f"a name has at most {MAX_NAME} characters (this one has {len(text)})")
    return text
