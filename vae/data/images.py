"""A user's images, from a folder or a .zip: listed safely, decoded with Pillow, made square and resized.

A zip is read member by member in memory and never extracted, so nothing is written to disk. Before
any member is decoded the whole archive is checked: entries that escape its root ("../x", absolute
paths) are refused, and so are archives whose declared sizes or compression ratios look like a
decompression bomb; then each member is inflated by vae.safeio.safezip with a hard cap on the bytes it
actually produces (stored and deflate only), whatever its header claims. In a folder, only regular
files are opened (a FIFO, socket or device is refused without being opened for reading). Each
image's pixel count and aspect ratio are checked from its header before it is decoded, and the
decoded image is shrunk by an integer factor (JPEG: while decoding) to a few times the size the
model needs before anything else is done with it. 16-bit images are scaled to 8 bits.

Messages name a file by its path inside the folder or zip the user gave, after that folder's own
name ("photos: cats/1.png is ..."), never by an absolute server path.
"""

from __future__ import annotations

import io
import os
import re
import stat
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vae.data.idx import DataError
from vae.safeio.safefile import kind_of, read_regular_file
from vae.safeio.safezip import ZipRefused, check_method, open_zip, read_member

__all__ = ["FolderImages", "read_image_folder", "IMAGE_FORMATS"]

IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")  # Pillow format names accepted
MAX_IMAGE_PIXELS = 40_000_000  # width * height of one image, checked from its header before decoding
MAX_ASPECT = 100  # longest side / shortest side of one image
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


def read_image_folder(path: str | Path, *, image_size: int = 28, channels: int = 1,
                      label: str | None = None) -> FolderImages:
    """Read every image under a folder (recursively) or in a .zip, as uint8 (N, channels, S, S), S = image_size.

    Each image is flattened onto white if it has transparency, converted to grey (channels=1) or RGB
    (channels=3), centre-cropped to a square and resized with Lanczos. Labels: when the images sit in
    first-level subfolders, one class per subfolder (class_names sorted); when they all sit at one
    level, one class named after that folder. A single folder wrapping everything (as zips often
    have) is looked through. Hidden files and __MACOSX are ignored; any other file must be an image.
    Raises DataError naming the offending file or entry by its path inside the folder or zip, after
    ``label`` (default: the folder's or zip's own name), never by the absolute path.
    """
    path = Path(path)
    where = label or path.name or "folder"
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if not isinstance(image_size, int) or not 4 <= image_size <= 1024:
        raise DataError(f"image_size must be an integer in 4..1024, got {image_size!r}")
    if path.is_dir():
        entries = _list_folder(path, where)
        images = _decode_all(entries, lambda rel: _read_file(path, rel, where), image_size, channels, where)
    elif path.is_file():
        try:
            zf = open_zip(path, where=where, max_entries=MAX_FILES)
        except ZipRefused as e:
            if "not a zip file" in str(e) or "not a valid zip" in str(e):
                raise DataError(f"{where}: not a folder or a valid zip file") from None
            raise DataError(str(e)) from None
        with zf:
            members = _check_zip(zf, where)
            entries = list(members)
            budget = [MAX_TOTAL_BYTES]     # bytes all members may still inflate to, counted as they are read
            images = _decode_all(entries, lambda rel: _read_member(zf, members[rel], where, budget),
                                 image_size, channels, where)
    else:
        raise DataError(f"{where}: no such folder or zip file")
    labels, class_names = _labels_from_paths(entries, path, where)
    return FolderImages(images, labels, class_names, entries)


def _is_junk(parts: list[str]) -> bool:
    return any(p.startswith(".") or p in _JUNK for p in parts)


def _list_folder(root: Path, where: str) -> list[str]:
    """Relative "/"-paths of the non-hidden files under root, sorted; anything but a regular file is refused."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _is_junk([d]))
        rel_dir = Path(dirpath).relative_to(root).parts
        for name in sorted(filenames):
            if _is_junk([name]):
                continue
            rel = "/".join((*rel_dir, name))
            try:
                st = (root / rel).stat()
            except OSError as e:  # e.g. a broken symbolic link
                raise DataError(f"{where}: cannot read {rel} ({e.strerror or type(e).__name__})") from None
            if not stat.S_ISREG(st.st_mode):
                raise DataError(f"{where}: {rel} is a {kind_of(st.st_mode)}, not a regular file; refused")
            if st.st_size > MAX_FILE_BYTES:
                raise DataError(f"{where}: {rel} is larger than {MAX_FILE_BYTES >> 20} MiB")
            found.append(rel)
            if len(found) > MAX_FILES:
                raise DataError(f"{where}: more than {MAX_FILES} files")
    return found


def _read_file(root: Path, rel: str, where: str) -> io.BytesIO:
    """One file of a folder, opened without blocking and checked to be regular on its descriptor."""
    try:
        return io.BytesIO(read_regular_file(root.joinpath(*rel.split("/")), MAX_FILE_BYTES))
    except OSError as e:
        raise DataError(f"{where}: cannot read {rel} ({e.strerror or e})") from None


def _safe_parts(name: str, archive: str) -> list[str]:
    """Split a zip entry name into path parts, refusing names that would escape the archive's root."""
    normal = name.replace("\\", "/")
    if normal.startswith("/") or re.match(r"^[A-Za-z]:", normal):
        raise DataError(f"{archive}: zip entry {name!r} has an absolute path (refused: it escapes the archive)")
    parts = [p for p in normal.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DataError(f"{archive}: zip entry {name!r} contains '..' (refused: it escapes the archive)")
    return parts


def _check_zip(zf: zipfile.ZipFile, archive: str) -> dict[str, zipfile.ZipInfo]:
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
        try:
            check_method(info, archive)
        except ZipRefused as e:
            raise DataError(str(e)) from None
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


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, archive: str, budget: list[int]) -> io.BytesIO:
    """One member, inflated with a hard cap (vae.safeio.safezip) on its own bytes and on what is left of `budget`."""
    try:
        data = read_member(zf, info, limit=min(MAX_FILE_BYTES, budget[0]), where=archive, max_ratio=MAX_ZIP_RATIO)
    except ZipRefused as e:
        raise DataError(str(e)) from None
    budget[0] -= len(data)
    return io.BytesIO(data)


def _decode_all(entries: list[str], read, image_size: int, channels: int, root: str) -> np.ndarray:
    if not entries:
        raise DataError(f"{root}: no images found")
    out = np.empty((len(entries), channels, image_size, image_size), dtype=np.uint8)
    for i, rel in enumerate(entries):
        out[i] = _decode(read(rel), f"{root}: {rel}", image_size, channels)
    return out


def open_image(source: Path | io.BytesIO, name: str, *, draft: tuple[str, tuple[int, int]] | None = None,
               shrink_to: tuple[int, str] | None = None) -> Image.Image:
    """Decode one untrusted image file (a path or bytes) into a loaded, EXIF-rotated, 8-bit PIL image.

    Only IMAGE_FORMATS are read, and the pixel count and aspect ratio are checked from the header
    before decoding, so a decompression bomb is refused without being unpacked. 16-bit grey is
    scaled to 8 bits (65535 -> 255), never clipped. ``draft`` (mode, size) lets a JPEG decode at a
    reduced scale. ``shrink_to`` (side, "crop" | "pad") sizes the work by what the caller needs: the
    image is shrunk by the largest integer factor (box average; JPEG while decoding) that keeps its
    shorter ("crop": a centre square is cut next) or longer ("pad": it is padded to a square next)
    side at least 4 * side pixels, so what follows handles a few thousand pixels, not 40 million.
    Raises DataError naming ``name`` and the problem.
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
                if max(w, h) > MAX_ASPECT * min(w, h):
                    raise DataError(f"{name}: {w}x{h} pixels is too elongated (over {MAX_ASPECT}:1) to show as a "
                                    "square image; crop it first")
                if shrink_to is not None:
                    factor = _shrink_factor(w, h, *shrink_to)
                    if factor > 1 and im.format == "JPEG":
                        im.draft(draft[0] if draft else None, (-(-w // factor), -(-h // factor)))
                elif draft is not None:
                    im.draft(*draft)
                im.load()
                orientation = im.getexif().get(0x0112, 1)
                out = _to_8bit(im)
                if shrink_to is not None:
                    factor = _shrink_factor(*out.size, *shrink_to)
                    if factor > 1:
                        out = out.reduce(factor)
                out = _orient(out, orientation)
                return out.copy() if out is im else out   # closing the file frees `im`, never what we return
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"{name}: refused as a possible decompression bomb ({e})") from None
    except UnidentifiedImageError:
        raise DataError(f"{name}: not an image (expected one of {', '.join(IMAGE_FORMATS)})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:  # truncated or corrupt image data
        raise DataError(f"{name}: corrupt image ({e})") from None
    except MemoryError:
        raise DataError(f"{name}: too large to decode in the memory available") from None


def _shrink_factor(w: int, h: int, side: int, fit: str) -> int:
    """The largest integer factor that keeps the shorter ("crop") or longer ("pad") side >= 4 * side."""
    if fit not in ("crop", "pad"):
        raise ValueError(f"fit must be 'crop' or 'pad', got {fit!r}")
    ref = min(w, h) if fit == "crop" else max(w, h)
    return max(1, ref // (4 * max(int(side), 1)))


_ORIENT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
           5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}


def _orient(im: Image.Image, orientation: int) -> Image.Image:
    """Apply an EXIF orientation tag (1..8) as ImageOps.exif_transpose does."""
    method = _ORIENT.get(orientation)
    return im.transpose(method) if method is not None else im


def _to_8bit(im: Image.Image) -> Image.Image:
    """Any decoded mode -> one of "L", "LA", "RGB", "RGBA" with 8 bits per channel (palette and
    bilevel images expanded, 16-bit grey scaled by 255 / 65535 and rounded)."""
    if im.mode in ("L", "LA", "RGB", "RGBA"):
        return im
    if im.mode.startswith("I"):      # "I;16", "I;16B", "I;16L", "I" (16-bit PNG grey)
        a = np.asarray(im).astype(np.uint32, copy=False)
        a = (np.minimum(a, 65535) * 255 + 32767) // 65535
        return Image.fromarray(a.astype(np.uint8), "L")
    if im.mode in ("P", "PA"):
        has_alpha = im.mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB")
    if im.mode == "1":
        return im.convert("L")
    if im.mode in ("La", "RGBa"):
        return im.convert(im.mode.upper())
    return im.convert("RGB")


def _decode(source: Path | io.BytesIO, name: str, size: int, channels: int) -> np.ndarray:
    """One image file -> uint8 (channels, size, size), centre-cropped to a square. ``name`` is used in errors."""
    im = open_image(source, name, draft=("L" if channels == 1 else "RGB", (size, size)), shrink_to=(size, "crop"))
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


def _labels_from_paths(files: list[str], root: Path, where: str) -> tuple[np.ndarray, list[str]]:
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
            f"{where}: {loose[0]} sits next to the class subfolders; put every image in a class subfolder "
            f"(or none in subfolders, for a single class)"
        )
    class_names = sorted({p[0] for p in parts})
    index = {c: i for i, c in enumerate(class_names)}
    return np.array([index[p[0]] for p in parts], dtype=np.int64), class_names
