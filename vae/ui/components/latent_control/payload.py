"""The latent control's wire format and options, torch-free: what the browser is sent and how it is checked.

`data` is one binary payload, b"VAE1" + u32 LE length + JSON header + padding to 4 + blob (offsets in the
header point into the blob); `_data` is the header without weights or image; `_labels`, `_by_kl` the
sliders' default labels and order; `_as_z` checks a latent point from Python or the browser.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from vae.dims import dim_label


def _pack(header: dict[str, Any], blob: bytes) -> bytes:
    """b"VAE1" + u32 LE header length + JSON header + zero padding to 4 bytes + blob."""
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = b"\0" * (-(8 + len(head)) % 4)
    return b"VAE1" + struct.pack("<I", len(head)) + head + pad + blob


def unpack_payload(payload: bytes) -> tuple[dict[str, Any], bytes]:
    """The component's `data` (see `_pack`) as (header dict, blob); for tests and benches."""
    if payload[:4] != b"VAE1":
        raise ValueError("not a latent-control payload (no VAE1 magic)")
    (n,) = struct.unpack("<I", payload[4:8])
    start = 8 + n + (-(8 + n) % 4)
    return json.loads(payload[8:8 + n].decode("utf-8")), payload[start:]


def _as_z(values: Any, latent_dim: int, what: str) -> np.ndarray:
    try:
        z = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what}: expected {latent_dim} numbers, got {values!r:.80}") from e
    if z.shape != (latent_dim,):
        raise ValueError(f"{what}: expected a latent point of {latent_dim} values, got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{what}: latent point has non-finite values")
    return z.astype(np.float32)


def _labels(latent_dim: int, labels: Sequence[str] | None, kl_per_dim: Sequence[float] | None) -> list[str]:
    if labels is not None:
        if len(labels) != latent_dim:
            raise ValueError(f"labels: expected {latent_dim} labels (one per latent dimension), got {len(labels)}")
        return [str(s) for s in labels]
    if kl_per_dim is None:
        return [dim_label(d) for d in range(latent_dim)]
    return [f"{dim_label(d)} \u00b7 KL {float(k):.2f} nats" for d, k in enumerate(kl_per_dim)]


def _by_kl(kl: np.ndarray | None, latent_dim: int) -> list[int]:
    """The default slider order: by KL (D,), largest first (ties in index order), else 0..D-1."""
    return [int(d) for d in np.argsort(-kl, kind="stable")] if kl is not None else list(range(latent_dim))


def _data(key: str, mode: str, latent_dim: int, image_shape, shown: np.ndarray, echo_seq: int,
          opts: dict[str, Any]) -> dict[str, Any]:
    """The component's data (without weights or image): what to draw and where z is."""
    return {
        "key": key, "mode": mode, "latent_dim": latent_dim, "image_shape": list(image_shape),
        "z": [round(float(v), 6) for v in shown], "echo_seq": echo_seq,
        "dims": opts["dims"], "labels": opts["labels"], "inactive": opts["inactive"], "pad_dims": opts["pad"],
        "range": opts["value_range"], "step": opts["step"], "key_step": opts["key_step"],
        "image_px": opts["image_px"], "pad_px": opts["pad_px"], "fold_inactive": opts["fold_inactive"],
    }
