"""Reading untrusted zip archives with hard bounds on what they may cost.

A zip's headers say how large each member is, but nothing obliges the compressed data to agree:
Python's `zipfile` inflates a bzip2 or lzma member whole, whatever its declared size, and reads a
deflate member in one call when asked for all of it. Here every member is inflated by us, from its
raw bytes, in bounded steps: the bytes actually produced are counted against a cap (per member and
per archive, and against a ratio to the compressed size), whatever the headers claim. Only the
two methods every zip tool writes are read: stored (0) and deflate (8).

    archive = open_zip(data_or_path, where="upload.zip", max_entries=1000)
    data = read_member(archive, info, limit=64 << 20, where="upload.zip")   # bytes, or ZipRefused

Messages name the archive by `where` (what the user called it) and the entry by its name inside
the archive, never by a server path.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

__all__ = ["ZipRefused", "open_zip", "read_member", "ALLOWED_METHODS", "METHOD_NAMES"]

ALLOWED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
METHOD_NAMES = {0: "stored", 8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstandard",
                95: "xz", 98: "ppmd", 99: "AES-encrypted"}
CHUNK = 1 << 20               # compressed bytes fed to zlib per step
OUT_STEP = 4 << 20            # bytes zlib may produce per step, before the caps are checked again
MIN_RATIO_CHECK = 1 << 20     # the compression-ratio cap applies once a member has produced this much
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"


class ZipRefused(ValueError):
    """A zip archive (or one of its members) is malformed, uses a method we do not read, or is too large."""


def open_zip(source: bytes | str | Path, *, where: str, max_entries: int) -> zipfile.ZipFile:
    """A ZipFile over `source` (bytes or a path), refused before its central directory is parsed
    when it declares more than `max_entries` entries (each would cost a ZipInfo object)."""
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
    try:
        end = zipfile._EndRecData(fp)           # the end-of-central-directory record (zip64 aware)
        if end is None:
            raise ZipRefused(f"{where} is not a zip file")
        n_entries = end[zipfile._ECD_ENTRIES_TOTAL]
        if n_entries > max_entries:
            raise ZipRefused(f"{where} lists {n_entries:,} entries; at most {max_entries:,} are read")
        fp.seek(0)
        return zipfile.ZipFile(fp)
    except ZipRefused:
        fp.close()
        raise
    except (zipfile.BadZipFile, OSError, EOFError, struct.error, ValueError) as e:
        fp.close()
        raise ZipRefused(f"{where} is not a valid zip file ({e})") from None


def check_method(info: zipfile.ZipInfo, where: str) -> None:
    """Refuse encrypted members and compression methods other than stored and deflate."""
    if info.flag_bits & 0x1:
        raise ZipRefused(f"{where}: zip entry {info.filename!r} is encrypted; only plain zips are read")
    if info.compress_type not in ALLOWED_METHODS:
        method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        raise ZipRefused(f"{where}: zip entry {info.filename!r} is compressed with {method}; only stored and "
                         "deflate (what every zip tool writes by default) are read")


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, limit: int, where: str,
                max_ratio: float | None = None) -> bytes:
    """The uncompressed bytes of `info`, inflating at most min(`limit`, its declared size) + 1 bytes,
    whatever the compressed data would inflate to.

    Raises ZipRefused when the member is encrypted, uses another method than stored / deflate,
    declares more than `limit` bytes or inflates to more than it declares, inflates beyond
    `max_ratio` times its compressed size (once past 1 MiB), is truncated, or fails its CRC-32.
    """
    check_method(info, where)
    name = info.filename
    if info.file_size > limit:
        raise ZipRefused(f"{where}: zip entry {name!r} declares {info.file_size:,} bytes, over the limit of "
                         f"{limit:,}")
    limit = info.file_size          # the data may not produce more than the header promised
    fp = zf.fp
    if fp is None:
        raise ZipRefused(f"{where}: the zip is closed")
    try:
        fp.seek(info.header_offset)
        header = fp.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size:
            raise ZipRefused(f"{where}: zip entry {name!r} is truncated")
        sig, *_, name_len, extra_len = _LOCAL_HEADER.unpack(header)
        if sig != _LOCAL_SIGNATURE:
            raise ZipRefused(f"{where}: zip entry {name!r} has a bad local header")
        local_name = fp.read(name_len)
        if local_name.decode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace") != info.orig_filename:
            raise ZipRefused(f"{where}: zip entry {name!r} disagrees with its local header (overlapping entries?)")
        fp.seek(extra_len, io.SEEK_CUR)
        left = info.compress_size
        out = bytearray()
        crc = 0
        inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        while True:
            if inflater is not None and inflater.unconsumed_tail:
                data = inflater.unconsumed_tail
            elif left > 0:
                data = fp.read(min(CHUNK, left))
                if not data:
                    raise ZipRefused(f"{where}: zip entry {name!r} is truncated")
                left -= len(data)
            elif inflater is not None and not inflater.eof:
                raise ZipRefused(f"{where}: zip entry {name!r} is truncated (its deflate stream does not end)")
            else:
                break
            room = limit + 1 - len(out)
            pending = data if inflater is None else inflater.decompress(data, max(min(room, OUT_STEP), 1))
            out += pending[:room]
            crc = zlib.crc32(pending[:room], crc)
            if len(out) > limit:
                raise ZipRefused(f"{where}: zip entry {name!r} inflates to more than the {limit:,} bytes it "
                                 "declares; refused as a possible decompression bomb")
            if max_ratio is not None and len(out) > MIN_RATIO_CHECK and len(out) > max_ratio * max(info.compress_size, 1):
                raise ZipRefused(f"{where}: zip entry {name!r} inflates more than {max_ratio:g} times its "
                                 f"compressed size; refused as a possible decompression bomb")
            if inflater is not None and inflater.eof:
                break
    except ZipRefused:
        raise
    except (OSError, zlib.error, EOFError) as e:
        raise ZipRefused(f"{where}: cannot read zip entry {name!r} ({e})") from None
    if len(out) != info.file_size:
        raise ZipRefused(f"{where}: zip entry {name!r} holds {len(out):,} bytes but declares {info.file_size:,}")
    if crc != info.CRC:
        raise ZipRefused(f"{where}: zip entry {name!r} fails its CRC-32 check (corrupt)")
    return bytes(out)
