"""A user's images, from a folder or a .zip: listed safely, decoded with Pillow, made square and resized.

A zip is read member by member in memory and never extracted, so nothing is written to disk. Before
any member is decoded the whole archive is checked: entries that escape its root ("../x", absolute
paths) are refused, and so are archives whose declared sizes or compression ratios look like a
decompression bomb. Each image's pixel count is checked from its header before it is decoded.
"""

from __future__ import annotations

import io
import os
import re
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vae.data.idx import DataError

__all__ = ["FolderImages", "read_image_folder", "IMAGE_FORMATS"]

IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")  # Pillow format names accepted
MAX_IMAGE_PIXELS = 40_000_000  # width * height of one image, checked from its header before decoding
MAX_FILE_BYTES = 64 << 20  # one image file (or zip member, uncompressed)
MAX_TOTAL_BYTES = 2 << 30  # all zip members together, uncompressed
MAX_ZIP_RATIO = 100  # uncompressed / compressed size of a zip member larger than 1 MiB
MAX_FILES = 200_000
_JUNK = {"__MACOSX", "Thumbs.db", "desktop.ini"}  # ignored, like names starting with "."


class FolderImages(NamedTuple):
    images: np.ndarray  # uint8 (N, C, S, S), 0..255
    labels: np.ndarray  # int64 (N,), index into class_names
    class_names: list[str]  # sorted
    files: list[str]  # (N,) path of each image relative to the folder or zip root, "/"-separated


def read_image_folder(path: str | Path, *, image_size: int = 28, channels: int = 1) -> FolderImages:
    """Read every image under a folder (recursively) or in a .zip, as uint8 (N, channels, S, S), S = image_size.

    Each image is flattened onto white if it has transparency, converted to grey (channels=1) or RGB
    (channels=3), centre-cropped to a square and resized with Lanczos. Labels: when the images sit in
    first-level subfolders, one class per subfolder (class_names sorted); when they all sit at one
    level, one class named after that folder. A single folder wrapping everything (as zips often
    have) is looked through. Hidden files and __MACOSX are ignored; any other file must be an image.
    Raises DataError naming the offending file or entry.
    """
    path = Path(path)
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if not isinstance(image_size, int) or not 4 <= image_size <= 1024:
        raise DataError(f"image_size must be an integer in 4..1024, got {image_size!r}")
    if path.is_dir():
        entries = _list_folder(path)
        read = lambda rel: path.joinpath(*rel.split("/"))  # noqa: E731  (Pillow opens the path lazily)
        images = _decode_all(entries, read, image_size, channels, path)
    elif path.is_file():
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise DataError(f"{path}: not a folder or a valid zip file ({e})") from e
        with zf:
            members = _check_zip(zf, path)
            entries = list(members)
            images = _decode_all(entries, lambda rel: _read_member(zf, members[rel], path), image_size, channels, path)
    else:
        raise DataError(f"{path}: no such folder or zip file")
    labels, class_names = _labels_from_paths(entries, path)
    return FolderImages(images, labels, class_names, entries)


def _is_junk(parts: list[str]) -> bool:
    return any(p.startswith(".") or p in _JUNK for p in parts)


def _list_folder(root: Path) -> list[str]:
    """Relative "/"-paths of the non-hidden files under root, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _is_junk([d]))
        rel_dir = Path(dirpath).relative_to(root).parts
        for name in sorted(filenames):
            if _is_junk([name]):
                continue
            rel = "/".join((*rel_dir, name))
            try:
                size = (root / rel).stat().st_size
            except OSError as e:  # e.g. a broken symbolic link
                raise DataError(f"{root}: cannot read {rel} ({e.strerror or e})") from e
            if size > MAX_FILE_BYTES:
                raise DataError(f"{root}: {rel} is larger than {MAX_FILE_BYTES >> 20} MiB")
            found.append(rel)
            if len(found) > MAX_FILES:
                raise DataError(f"{root}: more than {MAX_FILES} files")
    return found


def _safe_parts(name: str, archive: Path) -> list[str]:
    """Split a zip entry name into path parts, refusing names that would escape the archive's root."""
    normal = name.replace("\\", "/")
    if normal.startswith("/") or re.match(r"^[A-Za-z]:", normal):
        raise DataError(f"{archive}: zip entry {name!r} has an absolute path (refused: it escapes the archive)")
    parts = [p for p in normal.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DataError(f"{archive}: zip entry {name!r} contains '..' (refused: it escapes the archive)")
    return parts


def _check_zip(zf: zipfile.ZipFile, archive: Path) -> dict[str, zipfile.ZipInfo]:
    """Validate every entry of the archive before reading any; return relative path -> entry for the image candidates."""
    infos = zf.infolist()
    if len(infos) > MAX_FILES:
        raise DataError(f"{archive}: more than {MAX_FILES} entries")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        parts = _safe_parts(info.filename, archive)  # every entry, even directories and junk
        if info.is_dir() or not parts or _is_junk(parts):
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_FILE_BYTES or (info.file_size > 1 << 20 and ratio > MAX_ZIP_RATIO):
            raise DataError(
                f"{archive}: zip entry {info.filename!r} unpacks to {info.file_size} bytes from {info.compress_size} "
                f"(limit {MAX_FILE_BYTES >> 20} MiB, ratio {MAX_ZIP_RATIO}); refused as a possible decompression bomb"
            )
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise DataError(f"{archive}: unpacks to more than {MAX_TOTAL_BYTES >> 30} GiB; refused as a possible decompression bomb")
        members["/".join(parts)] = info
    return dict(sorted(members.items()))


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, archive: Path) -> io.BytesIO:
    try:
        with zf.open(info) as f:
            data = f.read(MAX_FILE_BYTES + 1)  # zipfile also stops at the declared size and checks the CRC
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError, OSError) as e:
        raise DataError(f"{archive}: cannot read zip entry {info.filename!r} ({e})") from e
    if len(data) > MAX_FILE_BYTES:
        raise DataError(f"{archive}: zip entry {info.filename!r} is larger than {MAX_FILE_BYTES >> 20} MiB")
    return io.BytesIO(data)


def _decode_all(entries: list[str], read, image_size: int, channels: int, root: Path) -> np.ndarray:
    if not entries:
        raise DataError(f"{root}: no images found")
    out = np.empty((len(entries), channels, image_size, image_size), dtype=np.uint8)
    for i, rel in enumerate(entries):
        out[i] = _decode(read(rel), f"{root}: {rel}", image_size, channels)
    return out


def open_image(source: Path | io.BytesIO, name: str, *, draft: tuple[str, tuple[int, int]] | None = None) -> Image.Image:
    """Decode one untrusted image file (a path or bytes) into a loaded, EXIF-rotated PIL image.

    Only IMAGE_FORMATS are read, and the pixel count is checked from the header before decoding, so a
    decompression bomb is refused without being unpacked. ``draft`` (mode, size) lets a JPEG decode at a
    reduced scale. Raises DataError naming ``name`` and the problem.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source, formats=IMAGE_FORMATS) as im:
                w, h = im.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise DataError(f"{name}: {w}x{h} pixels is over the limit of {MAX_IMAGE_PIXELS}; refused as a possible decompression bomb")
                if w < 1 or h < 1:
                    raise DataError(f"{name}: the image has no pixels ({w}x{h})")
                if draft is not None:
                    im.draft(*draft)
                return ImageOps.exif_transpose(im)   # a loaded copy, so closing the file is safe
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"{name}: refused as a possible decompression bomb ({e})") from None
    except UnidentifiedImageError:
        raise DataError(f"{name}: not an image (expected one of {', '.join(IMAGE_FORMATS)})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:  # truncated or corrupt image data
        raise DataError(f"{name}: corrupt image ({e})") from e


def _decode(source: Path | io.BytesIO, name: str, size: int, channels: int) -> np.ndarray:
    """One image file -> uint8 (channels, size, size), centre-cropped to a square. ``name`` is used in errors."""
    im = open_image(source, name, draft=("L" if channels == 1 else "RGB", (size, size)))
    im = ImageOps.fit(_flatten(im, channels), (size, size), Image.Resampling.LANCZOS)
    pixels = np.asarray(im, dtype=np.uint8)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def _flatten(im: Image.Image, channels: int) -> Image.Image:
    """Any Pillow mode -> "L" or "RGB"; transparency is composited onto white, 16-bit grey scaled to 8 bits."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L"):
        im = Image.fromarray((np.asarray(im, dtype=np.float64) / 257.0).round().clip(0, 255).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return im.convert("L" if channels == 1 else "RGB")


def _labels_from_paths(files: list[str], root: Path) -> tuple[np.ndarray, list[str]]:
    """int64 (N,) labels and sorted class names from the first-level folders of "/"-paths."""
    parts = [f.split("/") for f in files]
    name = root.stem if root.is_file() else root.name
    while all(len(p) >= 2 for p in parts) and len({p[0] for p in parts}) == 1:  # a single wrapping folder
        name = parts[0][0]
        parts = [p[1:] for p in parts]
    if all(len(p) == 1 for p in parts):
        return np.zeros(len(files), dtype=np.int64), [name]
    if loose := [f for f, p in zip(files, parts) if len(p) == 1]:
        raise DataError(
            f"{root}: {loose[0]} sits next to the class subfolders; put every image in a class subfolder "
            f"(or none in subfolders, for a single class)"
        )
    class_names = sorted({p[0] for p in parts})
    index = {c: i for i, c in enumerate(class_names)}
    return np.array([index[p[0]] for p in parts], dtype=np.int64), class_names
