"""ONNX pairs (encoder.onnx, decoder.onnx, vae.json) as explorable models, run with onnxruntime on the CPU.

Data, not code: accepted as an upload in hosted mode too. Every file is checked by onnx_check.py before a
session is made (size caps, no external data, standard operators only, shapes that fit vae.json), then
OnnxVAE's probe encodes random images and decodes prior points and refuses non-finite output.

    files = read_onnx_zip(upload_bytes, where="my_vae.zip")     # or read_onnx_folder(path)
    model = load_onnx(files, where="my_vae.zip")                 # an OnnxVAE (a ProtocolVAE)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from vae.models.onnx_check import (DECODER_FILE, ENCODER_FILE, MAX_META_BYTES, META_FILE, ONNX_FILES,
                                   check_onnx_bytes, max_onnx_bytes, read_meta)
from vae.models.protocol import ProtocolConfig, ProtocolError, ProtocolVAE

MAX_ZIP_ENTRIES = 100
MAX_ZIP_RATIO = 50          # ONNX weights compress a little; a zip bomb a lot


def _session(data: bytes, where: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1          # a shared server: one core per session; small graphs gain little
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime's own errors: one line naming the file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise ProtocolError(f"{where}: onnxruntime cannot load it: {first}") from None


class OnnxVAE(ProtocolVAE):
    """The protocol adapter over two onnxruntime sessions (no torch parameters; runs on the CPU)."""

    def __init__(self, files: dict[str, bytes], config: ProtocolConfig, where: str,
                 checkpoint_info: dict | None = None):
        super().__init__(config, where, checkpoint_info)
        self.files = dict(files)
        # no torch weights, but code across the project asks `next(model.parameters())` for the device and dtype:
        # an empty float32 parameter on the CPU answers it (0 elements, so nothing counts it)
        self.device_anchor = torch.nn.Parameter(torch.zeros(0), requires_grad=False)
        self._enc = _session(files[ENCODER_FILE], f"{where}: {ENCODER_FILE}")
        self._dec = _session(files[DECODER_FILE], f"{where}: {DECODER_FILE}")
        self._enc_in = self._enc.get_inputs()[0].name
        self._dec_in = self._dec.get_inputs()[0].name

    def __deepcopy__(self, memo):        # sessions are immutable and thread-safe: a copy may share them
        return self

    def _run(self, session, name: str, t: torch.Tensor, what: str) -> list[torch.Tensor]:
        arr = np.ascontiguousarray(t.detach().to("cpu", torch.float32).numpy())
        try:
            outs = session.run(None, {name: arr})
        except Exception as e:  # noqa: BLE001
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            raise ProtocolError(f"{self.where}: {what} failed on an input of shape {tuple(arr.shape)}: "
                                f"{first}") from None
        return [torch.from_numpy(np.asarray(o, dtype=np.float32)).to(t.device) for o in outs]

    def _encode(self, x: torch.Tensor):
        outs = self._run(self._enc, self._enc_in, x, ENCODER_FILE)
        return outs[0], outs[1]

    def _decode(self, z: torch.Tensor):
        outs = self._run(self._dec, self._dec_in, z, DECODER_FILE)
        return outs[0] if len(outs) == 1 else (outs[0], outs[1])

    def probe(self, seed: int = 0) -> None:
        try:
            super().probe(seed)
        except ProtocolError as e:
            # name the file at fault: the protocol's messages say "encode"/"decode", here they are graphs
            msg = (str(e).replace("decode's output is not finite", f"{DECODER_FILE} gives NaN or inf when decoding "
                                  "prior points (decode's output is not finite)")
                   .replace(": decode gave shape", f": {DECODER_FILE} gave shape")
                   .replace(": encode gave", f": {ENCODER_FILE} gave"))
            raise ProtocolError(msg) from None


def onnx_identity(files: dict[str, bytes]) -> str:
    """16 hex digits over the three files' bytes."""
    h = hashlib.sha256()
    for name in ONNX_FILES:
        h.update(name.encode())
        h.update(files.get(name, b""))
    return h.hexdigest()[:16]


def _dataset_hint(meta: bytes) -> str | None:
    """vae.json's optional "dataset": a name of vae.data.DATASET_NAMES (never a folder), else None."""
    import json

    from vae.data import DATASET_NAMES

    name = json.loads(meta.decode("utf-8")).get("dataset")
    return name if isinstance(name, str) and name in DATASET_NAMES else None


def load_onnx(files: dict[str, bytes], where: str = "upload", dataset: str | None = None) -> OnnxVAE:
    """Check the three files (onnx_check.py), open them with onnxruntime and probe them. Raises ProtocolError."""
    missing = [n for n in ONNX_FILES if n not in files]
    if missing:
        raise ProtocolError(f"{where}: missing {', '.join(missing)} (an ONNX model is encoder.onnx, decoder.onnx "
                            "and vae.json)")
    cfg = read_meta(files[META_FILE], f"{where}: {META_FILE}")
    check_onnx_bytes(files[ENCODER_FILE], "encoder", cfg, f"{where}: {ENCODER_FILE}")
    check_onnx_bytes(files[DECODER_FILE], "decoder", cfg, f"{where}: {DECODER_FILE}")
    dataset = dataset or _dataset_hint(files[META_FILE])
    info = {"dataset": {"name": dataset}} if dataset else {}
    model = OnnxVAE(files, ProtocolConfig(cfg.latent_dim, cfg.image_shape, cfg.likelihood, arch="onnx"), where, info)
    model.probe()
    return model


def _limit(name: str) -> int:
    return MAX_META_BYTES if name == META_FILE else max_onnx_bytes()


def read_onnx_zip(data: bytes, where: str = "upload") -> dict[str, bytes]:
    """encoder.onnx, decoder.onnx and vae.json from a zip (at its root or in one top folder), each inflated
    with a hard cap (vae.safeio.safezip). Raises ProtocolError."""
    from vae.safeio.safezip import ZipRefused, open_zip, read_member

    try:
        zf = open_zip(data, where=where, max_entries=MAX_ZIP_ENTRIES)
    except ZipRefused as e:
        raise ProtocolError(str(e)) from None
    found: dict[str, bytes] = {}
    with zf:
        for info in zf.infolist():
            base = info.filename.rstrip("/").split("/")[-1]
            if info.is_dir() or base not in ONNX_FILES or info.filename.strip("/").count("/") > 1:
                continue
            if base in found:
                raise ProtocolError(f"{where}: the zip holds more than one {base}")
            try:
                found[base] = read_member(zf, info, limit=_limit(base), where=where, max_ratio=MAX_ZIP_RATIO)
            except ZipRefused as e:
                raise ProtocolError(str(e)) from None
    return found


def read_onnx_folder(path: str | Path) -> dict[str, bytes]:
    """The three files of a local folder, each read with its cap. Raises ProtocolError."""
    from vae.safeio.safefile import read_regular_file

    path = Path(path)
    out = {}
    for name in ONNX_FILES:
        try:
            out[name] = read_regular_file(path / name, _limit(name))
        except FileNotFoundError:
            raise ProtocolError(f"{path.name}: no {name} (an ONNX model is encoder.onnx, decoder.onnx and vae.json)")
        except OSError as e:
            raise ProtocolError(f"{path.name}/{name}: {e}") from None
    return out


def is_onnx_source(path: str | Path) -> bool:
    """True for a folder holding vae.json and encoder.onnx, or a .zip whose entries include encoder.onnx."""
    p = Path(path)
    if p.is_dir():
        return (p / META_FILE).is_file() and (p / ENCODER_FILE).is_file()
    if p.is_file() and p.suffix.lower() == ".zip":
        import zipfile
        try:
            with zipfile.ZipFile(p) as zf:
                return any(n.rstrip("/").split("/")[-1] == ENCODER_FILE for n in zf.namelist()[:MAX_ZIP_ENTRIES])
        except (zipfile.BadZipFile, OSError):
            return False
    return False


def files_from_names(uploads: list[tuple[str, bytes]]) -> dict[str, bytes] | None:
    """Uploaded (name, bytes) as the three ONNX files when they are that (a zip holding encoder.onnx, or the three
    files uploaded together), else None (a checkpoint, say)."""
    names = [Path(n).name for n, _ in uploads]
    if len(uploads) == 1 and names[0].lower().endswith(".zip"):
        from vae.safeio.safezip import ZipRefused, open_zip
        try:
            with open_zip(uploads[0][1], where=names[0], max_entries=MAX_ZIP_ENTRIES) as zf:
                listed = [n.rstrip("/").split("/")[-1] for n in zf.namelist()]
        except ZipRefused:
            return None
        return read_onnx_zip(uploads[0][1], where=names[0]) if ENCODER_FILE in listed else None
    if any(n.endswith(".onnx") for n in names):
        return {Path(n).name: data for n, data in uploads}
    return None
