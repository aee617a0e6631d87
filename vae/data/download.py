"""Downloading data files: a checksum-verified, atomic file download and a mirror-aware cache fetch.

Nothing partial ever lands at a destination: a download streams into a temporary file in the
destination's folder, is checked (length against Content-Length, then md5 / sha256), and only then
is moved into place with ``os.replace``. On any failure the temporary file is removed.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from vae.data.idx import DataError

__all__ = ["default_cache_dir", "download_file", "fetch_files", "file_md5", "ProgressFn"]

ProgressFn = Callable[[int, int], None]  # progress(bytes_done, bytes_total); total is 0 when unknown

_CHUNK = 1 << 16  # bytes per read
_SCHEMES = ("http", "https", "file")


def default_cache_dir() -> Path:
    """Where downloaded data sets are kept: $VAE_CACHE_DIR, else $XDG_CACHE_HOME/vae-explorer,
    else ~/.cache/vae-explorer. Not created here."""
    if explicit := os.environ.get("VAE_CACHE_DIR"):
        return Path(explicit).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "vae-explorer"
    return Path.home() / ".cache" / "vae-explorer"


def file_md5(path: str | Path) -> str:
    """Hex md5 of a file's bytes, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    url: str,
    dest: str | Path,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    progress: ProgressFn | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` to ``dest`` (its folder is created) and return ``dest``.

    Each checksum given (hex, any case) is verified; ``progress(bytes_done, bytes_total)`` is called
    once before the first chunk and after every chunk (``bytes_total`` is 0 when the server sends no
    Content-Length). ``timeout`` is seconds per blocking socket operation, not for the whole transfer.
    Raises DataError naming the URL and the problem (HTTP status, connection error or cut, fewer
    bytes than Content-Length, checksum mismatch); ``dest`` is then untouched and no temporary file
    is left behind.
    """
    dest = Path(dest)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in _SCHEMES:
        raise DataError(f"{url}: unsupported URL scheme {scheme!r} (expected one of {', '.join(_SCHEMES)})")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        hashes = {"md5": hashlib.md5(), "sha256": hashlib.sha256()}
        with os.fdopen(fd, "wb") as out:
            done, total = _stream(url, out, hashes, progress, timeout)
        if total and done != total:  # a cut connection: http.client returns EOF rather than raising
            raise DataError(f"{url}: download cut short, got {done} of {total} bytes (Content-Length)")
        for algo, expected in (("md5", md5), ("sha256", sha256)):
            if expected is not None and (actual := hashes[algo].hexdigest()) != expected.lower():
                raise DataError(f"{url}: {algo} checksum mismatch, expected {expected.lower()}, got {actual} ({done} bytes)")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # no-op after a successful os.replace
    return dest


def _stream(url: str, out, hashes: Mapping, progress: ProgressFn | None, timeout: float) -> tuple[int, int]:
    """Copy the body of ``url`` into the open file ``out``, updating ``hashes``; returns (bytes read, Content-Length or 0)."""
    request = urllib.request.Request(url, headers={"User-Agent": "vae-explorer", "Accept-Encoding": "identity"})
    done = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            try:
                total = max(int(response.headers.get("Content-Length") or 0), 0)
            except ValueError:
                total = 0
            if progress is not None:
                progress(0, total)
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                for h in hashes.values():
                    h.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except urllib.error.HTTPError as e:
        raise DataError(f"{url}: HTTP error {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise DataError(f"{url}: cannot connect ({e.reason})") from e
    except http.client.IncompleteRead as e:
        raise DataError(f"{url}: download cut short after {done + len(e.partial)} bytes") from e
    except (http.client.HTTPException, OSError) as e:  # includes timeouts and connection resets
        raise DataError(f"{url}: download failed after {done} bytes ({type(e).__name__}: {e})") from e
    return done, total


def fetch_files(
    checksums: Mapping[str, str | None],
    mirrors: Sequence[str],
    folder: str | Path,
    *,
    download: bool = True,
    progress: ProgressFn | None = None,
    timeout: float = 30.0,
) -> dict[str, Path]:
    """Make sure every file named in ``checksums`` (file name -> md5, or None for no check) is in ``folder``.

    A cached file is used when its md5 matches; otherwise, if ``download``, each mirror (a base URL,
    the file name is appended) is tried in order until one serves the file with the right checksum.
    ``progress`` is called per file (it restarts at 0 for each). Returns file name -> path.
    Raises DataError listing, per file, why each mirror failed, or that the file is missing and
    downloading is off.
    """
    folder = Path(folder)
    paths: dict[str, Path] = {}
    for name, md5 in checksums.items():
        path = folder / name
        if path.is_file():
            if md5 is None or file_md5(path) == md5.lower():
                paths[name] = path
                continue
            problem = f"{path} is in the cache but its md5 is not {md5} (corrupt or from another source)"
        else:
            problem = f"{path} is not in the cache"
        if not download:
            raise DataError(f"{problem}, and download=False")
        if not mirrors:
            raise DataError(f"{problem}, and no mirror URL was given to download it from")
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            try:
                paths[name] = download_file(url, path, md5=md5, progress=progress, timeout=timeout)
                break
            except DataError as e:
                errors.append(f"  - {e}")
        else:
            raise DataError(
                f"could not download {name} from any of {len(mirrors)} mirror(s):\n" + "\n".join(errors)
            )
    return paths
