"""IDX files (the MNIST container format): read and write, with structural validation.

An IDX file is a 4-byte magic number ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` big-endian
uint32 dimensions, then the data in C order, big-endian. The files are usually gzip-compressed.

``DataError`` lives here, in the lowest module of the data code, so that every data module
(idx, download, images, data) can raise it without a circular import; ``vae.data`` re-exports it.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

__all__ = ["DataError", "read_idx", "parse_idx", "write_idx"]


class DataError(ValueError):
    """Bad input to the data code: a missing, corrupt or malformed file, a failed download, a bad option."""


# IDX dtype code -> big-endian numpy dtype
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_DTYPE = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
MAX_IDX_BYTES = 1 << 30   # one IDX file, compressed or not (MNIST's largest is 47 MB)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzip-compressed (detected from its first bytes, not its name) or raw.

    Returns a native-endian, writable array whose shape is the dimensions in the header
    (e.g. uint8 (60000, 28, 28) for MNIST training images, uint8 (60000,) for its labels).
    Raises DataError naming the file for: a missing file, a truncated or corrupt gzip stream,
    a wrong magic number, an unknown dtype code, or dimensions that disagree with the data length.
    """
    from vae.safeio.safefile import read_regular_file

    path = Path(path)
    try:
        raw = read_regular_file(path, MAX_IDX_BYTES)      # a FIFO or device is refused, not waited on
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if raw[:2] == _GZIP_MAGIC:
        raw = _gunzip(raw, MAX_IDX_BYTES, str(path))
    return parse_idx(raw, source=str(path))


def _gunzip(data: bytes, limit: int, source: str) -> bytes:
    """Inflate gzip `data`, producing at most `limit` bytes whatever it would inflate to (a gzip bomb
    is refused after `limit` + 1 bytes, not unpacked)."""
    out = bytearray()
    try:
        while data:
            d = zlib.decompressobj(wbits=31)
            chunk = data
            while chunk:
                out += d.decompress(chunk, limit + 1 - len(out))
                if len(out) > limit:
                    raise DataError(f"{source}: inflates to more than {limit >> 20} MiB; refused")
                chunk = d.unconsumed_tail
            if not d.eof:
                raise DataError(f"{source}: corrupt or truncated gzip data (the stream does not end)")
            data = d.unused_data           # gzip allows several members one after another
    except zlib.error as e:
        raise DataError(f"{source}: corrupt or truncated gzip data ({e})") from None
    return bytes(out)


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse uncompressed IDX bytes; ``source`` names the data in error messages. See read_idx."""
    if len(data) < 4:
        raise DataError(f"{source}: not an IDX file (only {len(data)} bytes, shorter than the 4-byte magic number)")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{source}: not an IDX file (magic number 0x{data[:4].hex()}; expected 0x0000TTNN with "
            f"dtype code TT in {{{', '.join(f'{c:02x}' for c in _IDX_DTYPES)}}} and NN >= 1 dimensions)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source}: truncated IDX header ({len(data)} bytes, {ndim} dimensions need {header})")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        shape = " x ".join(map(str, dims))
        raise DataError(
            f"{source}: header says {shape} values of {dtype.newbyteorder('=').name} ({expected} bytes of data) "
            f"but the file holds {actual} bytes of data ({'truncated' if actual < expected else 'trailing bytes'})"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # a native-endian, writable copy


def write_idx(array: np.ndarray, path: str | Path) -> Path:
    """Write ``array`` (uint8, int8, int16, int32, float32 or float64; >= 1 dim) as an IDX file.

    Gzip-compressed when ``path`` ends with ``.gz``. Used to build test fixtures and converted data sets.
    """
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODE_OF_DTYPE or array.ndim == 0 or array.ndim > 255:
        raise DataError(f"{path}: cannot write a {array.dtype} array of {array.ndim} dimensions as IDX")
    header = bytes([0, 0, _CODE_OF_DTYPE[native], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(payload, mtime=0) if path.name.endswith(".gz") else payload)
    return path
