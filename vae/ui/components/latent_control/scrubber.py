"""Path scrubber: a slider along an interpolation path whose decoded image follows the hand.

The Interpolate page's strip shows N fixed steps; this shows any point between them, decoded in the
browser every animation frame from the same weights as the latent control (sent once per model and
browser session; every MLP and conv decoder the library builds). A decoder the browser cannot run
falls back to an st.slider decoded on the server on release.

    t = path_scrubber(model, z_a, z_b, "slerp", key="int_scrub")    # t in [0, 1], from the last release
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
import torch

from vae.analysis.latent import decode_numpy
from vae.browser_decoder import can_decode_in_browser
from vae.ui.images import show
from vae.ui.components.latent_control.decoders import _cached_json_export

__all__ = ["path_scrubber", "path_point"]

_HERE = Path(__file__).resolve().parent
_component = st.components.v2.component(
    "vae_path_scrubber",
    html=(_HERE / "scrubber.html").read_text(encoding="utf-8"),
    css=(_HERE / "scrubber.css").read_text(encoding="utf-8"),
    js="\n".join((_HERE / f).read_text(encoding="utf-8") for f in ("decoder.js", "scrubber.js")),
)


def _slerp_angle(z_a: np.ndarray, z_b: np.ndarray, eps: float = 1e-6) -> float | None:
    """The angle slerp uses, or None where vae.analysis.latent.slerp falls back to lerp."""
    a, b = z_a.astype(np.float64), z_b.astype(np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return None
    omega = math.acos(float(np.clip(a @ b / (na * nb), -1.0, 1.0)))
    return None if math.sin(omega) < eps else omega


def path_point(z_a: np.ndarray, z_b: np.ndarray, kind: str, t: float) -> np.ndarray:
    """z(t) on the path, exactly as the browser computes it: (D,), (D,) -> (D,) float64."""
    a, b = np.asarray(z_a, np.float64), np.asarray(z_b, np.float64)
    omega = _slerp_angle(a, b) if kind == "slerp" else None
    if omega is None:
        return (1 - t) * a + t * b
    return math.sin((1 - t) * omega) / math.sin(omega) * a + math.sin(t * omega) / math.sin(omega) * b


def _state(key: str) -> dict[str, Any]:
    name = f"_path_scrubber::{key}"
    if name not in st.session_state:
        st.session_state[name] = {"sent_hash": None, "browser_failed": None}
    return st.session_state[name]


def path_scrubber(model: torch.nn.Module, z_a, z_b, kind: str = "slerp", *, key: str, image_px: int = 224,
                  t: float = 0.5) -> float:
    """Draw the scrubber for the path from z_a to z_b (each (D,)); returns t of the last release.

    kind  "lerp" or "slerp" (as vae.analysis.latent: slerp falls back to lerp for parallel or zero ends)
    t     where the slider starts for a new path
    """
    if kind not in ("lerp", "slerp"):
        raise ValueError(f"kind must be 'lerp' or 'slerp', got {kind!r}")
    a = np.asarray(z_a, np.float32).reshape(-1)
    b = np.asarray(z_b, np.float32).reshape(-1)
    D = int(model.config.latent_dim)
    if a.shape != (D,) or b.shape != (D,):
        raise ValueError(f"path_scrubber: endpoints must be ({D},), got {a.shape} and {b.shape}")
    priv = _state(key)
    value = (st.session_state.get(key) or {}).get("t")
    t_now = float(value) if isinstance(value, (int, float)) and 0 <= value <= 1 else float(t)
    if priv["browser_failed"] or not can_decode_in_browser(model):
        t_now = st.slider("position along the path", 0.0, 1.0, t_now, 0.01, key=f"{key}_server")
        show(decode_numpy(model, path_point(a, b, kind, t_now)[None].astype(np.float32))[0], image_px,
             caption="decoded on the server (on release): " + (priv["browser_failed"] or "this decoder stays there"))
        return t_now
    omega = _slerp_angle(a, b) if kind == "slerp" else None
    exported = _cached_json_export(model)
    data = {"key": key, "image_shape": list(model.config.image_shape), "image_px": int(image_px),
            "z_a": [float(v) for v in a], "z_b": [float(v) for v in b],
            "kind": "slerp" if omega is not None else "lerp", "omega": omega or 0.0, "t": t_now,
            "weights_hash": exported["hash"]}
    if priv["sent_hash"] != exported["hash"]:
        data["weights"] = exported

    def on_need_weights() -> None:
        priv["sent_hash"] = None

    def on_failed() -> None:
        reason = (st.session_state.get(key) or {}).get("browser_failed")
        if reason:
            priv["browser_failed"] = f"the browser could not run it ({str(reason)[:200]})"

    _component(key=key, data=data, default={"t": t_now}, on_t_change=lambda: None,
               on_need_weights_change=on_need_weights, on_browser_failed_change=on_failed)
    priv["sent_hash"] = exported["hash"]
    return t_now

