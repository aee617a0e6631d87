"""The header of a safetensors file, read and checked by us before any tensor is allocated.

    [8 bytes: N, little-endian u64][N bytes: JSON header][data]
    header = {"name": {"dtype": "F32", "shape": [out, in], "data_offsets": [begin, end]}, ...,
              "__metadata__": {str: str} (optional)}

`read_header` checks that the header is small, is JSON of that form, that every tensor's byte
range matches its shape and dtype, lies inside the file, and that the ranges tile the data
section exactly (no gaps, no overlaps, no trailing bytes). `check_against` compares the names
and shapes with those a config implies. Only then may the safetensors library build tensors.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

__all__ = ["TensorFileError", "TensorInfo", "read_header", "check_against", "FLOAT_DTYPES", "MAX_HEADER_BYTES"]

MAX_HEADER_BYTES = 1 << 20     # a model here has a few dozen tensors: a header of a few KB
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
               "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "U16": 2, "U32": 4, "U64": 8, "BOOL": 1}
FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")


class TensorFileError(ValueError):
    """A safetensors file whose header is malformed or does not fit what it should hold."""


class TensorInfo(tuple):
    """(dtype, shape, begin, end) of one tensor; begin/end are byte offsets into the data section."""

    __slots__ = ()

    def __new__(cls, dtype: str, shape: tuple[int, ...], begin: int, end: int):
        return super().__new__(cls, (dtype, shape, begin, end))

    dtype = property(lambda self: self[0])
    shape = property(lambda self: self[1])


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def read_header(raw: bytes, where: str) -> dict[str, TensorInfo]:
    """Name -> TensorInfo from safetensors bytes, every range checked against the file. Allocates
    nothing beyond the header's JSON (at most MAX_HEADER_BYTES)."""
    if len(raw) < 8:
        raise TensorFileError(f"{where}: only {len(raw)} bytes, too short for a safetensors header")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > MAX_HEADER_BYTES or n > len(raw) - 8:
        raise TensorFileError(f"{where}: the header claims {n:,} bytes (the file holds {len(raw):,}; "
                              f"the limit is {MAX_HEADER_BYTES:,})")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise TensorFileError(f"{where}: the header is not valid JSON ({str(e)[:120]})") from None
    if not isinstance(header, dict):
        raise TensorFileError(f"{where}: the header is not a JSON object")
    data_len = len(raw) - 8 - n
    out: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise TensorFileError(f"{where}: tensor {name[:80]!r} has a malformed header entry")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPE_BYTES:
            raise TensorFileError(f"{where}: tensor {name[:80]!r} has unknown dtype {str(dtype)[:20]!r}")
        if (not isinstance(shape, list) or len(shape) > 8
                or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d for d in shape)):
            raise TensorFileError(f"{where}: tensor {name[:80]!r} has a malformed shape")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise TensorFileError(f"{where}: tensor {name[:80]!r} has malformed data_offsets")
        begin, end = offsets
        nbytes = math.prod(shape) * DTYPE_BYTES[dtype]
        if not 0 <= begin <= end <= data_len:
            raise TensorFileError(f"{where}: tensor {name[:80]!r} claims bytes {begin}..{end}, outside the "
                                  f"{data_len:,} bytes of data in the file")
        if end - begin != nbytes:
            raise TensorFileError(f"{where}: tensor {name[:80]!r} of shape {tuple(shape)} {dtype} needs "
                                  f"{nbytes:,} bytes but its range holds {end - begin:,}")
        out[name] = TensorInfo(dtype, tuple(shape), begin, end)
    position = 0
    for info in sorted(out.values(), key=lambda t: (t[2], t[3])):
        if info[2] != position:
            raise TensorFileError(f"{where}: the tensors' byte ranges overlap or leave gaps")
        position = info[3]
    if position != data_len:
        raise TensorFileError(f"{where}: {data_len - position:,} bytes after the last tensor belong to none")
    return out


def name_mismatch(expected, found) -> str | None:
    """"missing tensor(s) [...]; unexpected tensor(s) [...]" for two collections of tensor names (at most 5
    of each, long names cut to 60 characters), or None when they are the same set."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    parts = []
    if missing:
        parts.append(f"missing tensor(s) {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if unexpected:
        parts.append(f"unexpected tensor(s) {[u[:60] for u in unexpected[:5]]}{' ...' if len(unexpected) > 5 else ''}")
    return "; ".join(parts) or None


def check_against(infos: dict[str, TensorInfo], expected: dict[str, tuple[int, ...]], where: str,
                  what: str = "its config") -> None:
    """Names, shapes and (floating) dtypes of `infos` exactly those of `expected` (name -> shape)."""
    mismatch = name_mismatch(expected, infos)
    if mismatch:
        raise TensorFileError(f"{where} does not fit {what}: {mismatch}")
    for name, shape in expected.items():
        info = infos[name]
        if tuple(info.shape) != tuple(shape):
            raise TensorFileError(f"{where}: tensor {name!r} has shape {tuple(info.shape)}, but {what} "
                                  f"needs {tuple(shape)}")
        if info.dtype not in FLOAT_DTYPES:
            raise TensorFileError(f"{where}: tensor {name!r} has dtype {info.dtype}, expected a float "
                                  f"({', '.join(FLOAT_DTYPES)})")


def metadata(raw: bytes) -> dict[str, Any]:
    """The `__metadata__` of a header already checked by read_header (empty when absent)."""
    (n,) = struct.unpack("<Q", raw[:8])
    meta = json.loads(raw[8:8 + n]).get("__metadata__") or {}
    return meta if isinstance(meta, dict) else {}
