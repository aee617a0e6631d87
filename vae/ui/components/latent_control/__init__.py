"""Latent control: sliders and a 2-d pad over z whose decoded image follows the drag.

A custom `st.components.v2` component (HTML/CSS/JS beside this file). `st.slider` only reports
on release; this component redraws the decoded image every animation frame while the hand moves:

- Every decoder the library builds (MLP and conv, ReLU or tanh) decodes in the browser, in
  JavaScript, from weights exported by `vae.browser_decoder.export_decoder` and sent once per model
  and browser session (keyed by their hash; the browser asks again if its cache misses). No server
  round trip during a drag.
- Any other decoder (an upsample-and-convolve decoder, batch norm, other activations, outside and ONNX
  models) decodes in the browser with onnxruntime-web (WASM, one thread): decoder.onnx
  (`vae.browser_onnx.onnx_decoder_export`) is sent once; the runtime is served from ort/dist beside this
  file (built from ort/frontend), never from a CDN.
- Weights and decoder.onnx travel as raw bytes: `data` is one binary payload, b"VAE1" + u32 LE length +
  JSON header + padding to 4 + blob (offsets in the header point into the blob; payload.py).
- The server path is the fallback (a decoder the browser cannot run or is too large to send, a
  browser whose decoder failed to load, or decode_in="server"): during a drag the browser sends z as
  a trigger, at most one request in flight, and the server decodes inside an `st.fragment` and
  sends back the image (uint8, base64) in the component's data.

When a drag or a keyboard edit ends, the new z is the app's state: `latent_control` returns it in
that run, and `on_change(z)` is called first (before the script body), so every panel sees it.

    z = latent_control(model, st.session_state.z, key="decode_z", kl_per_dim=kl,
                       on_change=lambda z: st.session_state.update(z=z))
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from vae.dims import INACTIVE_KL
from vae.ui.components.latent_control.decoders import (
    _cached_export,
    _cached_onnx,
    decode_mode,
    decode_mode_note,
    server_decode_bytes,
)
from vae.ui.components.latent_control.payload import _as_z, _by_kl, _data, _labels, _pack, unpack_payload
from vae.ui.components.latent_control.state import _in_fragment_rerun, _private

if TYPE_CHECKING:
    import torch

# Here: the component's declaration, `latent_control`, `first_picture` and the mount; payload.py the wire
# format, decoders.py the exports and decode mode, state.py the per-key session state.
# torch, vae.browser_decoder and vae.browser_onnx are imported where used: `first_picture` mounts the control
# from a checkpoint's files on a fresh server's first page, before torch is imported (vae.ui.decode.first_picture)

__all__ = ["latent_control", "first_picture", "decode_mode", "decode_mode_note", "server_decode_bytes", "unpack_payload"]

_HERE = Path(__file__).resolve().parent
_COMPONENT_NAME = "vae_latent_control"
_component = st.components.v2.component(
    _COMPONENT_NAME,
    html=(_HERE / "latent_control.html").read_text(encoding="utf-8"),
    css=(_HERE / "latent_control.css").read_text(encoding="utf-8"),
    js="\n".join((_HERE / f).read_text(encoding="utf-8")
                 for f in ("decoder.js", "onnx_decoder.js", "latent_control.js")),
)
# onnxruntime-web's module and .wasm, served by Streamlit at {baseUrlPath}/component/<this name>/<file>
# (a v1 component declared only for its static files; it is never drawn)
_ORT_DIST = _HERE / "ort" / "dist"
_ORT_ASSETS = st.components.v1.declare_component("ort_runtime", path=str(_ORT_DIST))
_ORT_NAME = f"{__name__}.ort_runtime"


def _ort_base() -> str:
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return "/" + (base + "/" if base else "") + f"component/{_ORT_NAME}/"


def latent_control(
    model: torch.nn.Module,
    z: Sequence[float] | np.ndarray | torch.Tensor | None = None,
    *,
    key: str,
    dims: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    kl_per_dim: Sequence[float] | np.ndarray | torch.Tensor | None = None,
    inactive: Sequence[bool] | np.ndarray | None = None,
    fold_inactive: bool = True,
    pad_dims: tuple[int, int] | None | str = "auto",
    value_range: float = 3.0,
    step: float = 0.01,
    key_step: float = 0.1,
    image_px: int = 196,
    pad_px: int = 196,
    decode_in: str = "auto",
    on_change: Callable[[np.ndarray], None] | None = None,
    rerun_app: bool = True,
) -> np.ndarray:
    """Draw the latent control for `model` at point `z`; return the current z, float32 (D,).

    model        a `vae.VAE` or a protocol model (outside, ONNX); its decoder runs in the browser (JavaScript
                 for the library's MLP/conv, else onnxruntime-web), else on the server
    z            the point to show (D,), e.g. the app's state; None keeps the component's own
                 state (zeros at first). Python may move it any run (a map click, a sample).
    key          widget key, unique on the page (also names the instance in the JS test hook)
    dims         which dimensions get a slider, in display order (default: all, by KL, largest first
                 when kl_per_dim is given)
    labels       one label per dimension (default "z3 · KL 2.14 nats" from kl_per_dim, else "z3";
                 numbered from 1, like the app's pages)
    kl_per_dim   (D,) average KL per dimension in nats, shown in the labels and used for the order
    inactive     (D,) bool, dimensions greyed out and tagged "inactive" (e.g. not active units)
    fold_inactive  inactive dimensions sit in a closed "N inactive dimensions" fold after the others
    pad_dims     (i, j) for the 2-d pad (horizontal, vertical); "auto" = the first two of `dims`;
                 None hides it
    value_range  sliders and pad span [-value_range, value_range]; step: their resolution;
                 key_step: one arrow-key press (Shift: 10x)
    decode_in    "auto", "browser" (the hand-written JavaScript decoder), "onnx" (onnxruntime-web) or
                 "server"
    on_change    called with the new z (float32 (D,)) when the user ends a drag or a keyboard edit,
                 before the script body runs; use it to write the app's state
    rerun_app    a commit that arrives in a fragment rerun (yours, or the server-mode fragment)
                 reruns the whole app so panels outside the fragment see it; False: in browser
                 mode only the enclosing fragment reruns (when every panel using z is inside it)

    Returns the z the user just committed in this run, otherwise the z shown (`z`, or the
    component's own state when z is None). Store it: the component shows what it is given.
    """
    latent_dim = int(model.config.latent_dim)
    priv = _private(key)
    if priv["committed"] is not None and priv["committed"].shape != (latent_dim,):
        priv.update(committed=None, returned=True, display=None)  # another model, another latent size
    if decode_in == "auto":
        decode_in = decode_mode(model, key)
    if decode_in not in ("browser", "onnx", "server"):
        raise ValueError(f"decode_in must be 'auto', 'browser', 'onnx' or 'server', got {decode_in!r}")
    from vae.browser_decoder import browser_refusal, can_decode_in_browser

    if decode_in == "browser" and not can_decode_in_browser(model):
        raise ValueError(f"decode_in='browser': {browser_refusal(model)}")
    if decode_in == "onnx" and not isinstance(_cached_onnx(model), dict):
        raise ValueError(f"decode_in='onnx': {_cached_onnx(model)}")

    kl = None if kl_per_dim is None else np.asarray(
        kl_per_dim.detach().cpu() if hasattr(kl_per_dim, "detach") else kl_per_dim, dtype=np.float64)
    if kl is not None and kl.shape != (latent_dim,):
        raise ValueError(f"kl_per_dim: expected {latent_dim} values (one per latent dimension), got shape {kl.shape}")
    dims = _by_kl(kl, latent_dim) if dims is None else [int(d) for d in dims]
    bad = [d for d in dims if not 0 <= d < latent_dim]
    if bad or len(set(dims)) != len(dims) or not dims:
        raise ValueError(f"dims: expected distinct dimensions in 0..{latent_dim - 1}, got {dims}")
    inactive_list = [False] * latent_dim if inactive is None else [bool(v) for v in np.asarray(inactive).reshape(-1)]
    if len(inactive_list) != latent_dim:
        raise ValueError(f"inactive: expected {latent_dim} flags, got {len(inactive_list)}")
    if isinstance(pad_dims, str):
        if pad_dims != "auto":
            raise ValueError(f"pad_dims must be (i, j), 'auto' or None, got {pad_dims!r}")
        pad = dims[:2] if len(dims) >= 2 else None
    elif pad_dims is None:
        pad = None
    else:
        pad = [int(d) for d in pad_dims]
        if len(pad) != 2 or pad[0] == pad[1] or not all(0 <= d < latent_dim for d in pad):
            raise ValueError(f"pad_dims: expected two different dimensions in 0..{latent_dim - 1}, got {pad_dims}")
    if not (value_range > 0 and 0 < step <= value_range and 0 < key_step <= value_range):
        raise ValueError(f"need value_range > 0 and 0 < step, key_step <= value_range; got "
                         f"{value_range}, {step}, {key_step}")

    if z is not None:
        if hasattr(z, "detach"):                       # a torch.Tensor
            z = z.detach().cpu().numpy()
        shown = _as_z(z, latent_dim, "z")
    elif priv["committed"] is not None:
        shown = priv["committed"]
    else:
        shown = np.zeros(latent_dim, dtype=np.float32)
    if priv["committed"] is not None and not priv["returned"]:
        shown = priv["committed"]  # committed this run: it wins over the (older) z passed in

    opts = dict(dims=dims, labels=_labels(latent_dim, labels, kl), inactive=inactive_list, pad=pad,
                value_range=float(value_range), step=float(step), key_step=float(key_step),
                image_px=int(image_px), pad_px=int(pad_px), on_change=on_change, rerun_app=bool(rerun_app),
                fold_inactive=bool(fold_inactive))
    if decode_in == "server":
        _server_fragment(model, shown, key, opts)
    else:
        _mount(model, shown, key, decode_in, opts)

    if priv["committed"] is not None and not priv["returned"]:
        priv["returned"] = True
        return priv["committed"].copy()
    return shown.copy()


def first_picture(exported: dict[str, Any], blob: bytes, z: np.ndarray, *, key: str,
                  kl_per_dim: np.ndarray | None = None, value_range: float = 3.0, image_px: int = 196) -> None:
    """Draw the control from a browser export (`vae.browser_weights.export_decoder_binary_numpy`: header,
    blob) at z (D,), without a model and without torch: the picture of a fresh server's first page while
    torch is imported. kl_per_dim (D,) nats orders and labels the sliders as `latent_control` does (dims
    by KL, inactive below INACTIVE_KL). It commits nothing (the page's own `latent_control` replaces it)."""
    latent_dim = int(exported["latent_dim"])
    shown = _as_z(z, latent_dim, "z")
    kl = None if kl_per_dim is None else np.asarray(kl_per_dim, np.float64)
    dims = _by_kl(kl, latent_dim)
    inactive = [False] * latent_dim if kl is None else [bool(k < INACTIVE_KL) for k in kl]
    opts = dict(dims=dims, labels=_labels(latent_dim, None, kl), inactive=inactive,
                pad=dims[:2] if latent_dim >= 2 else None, value_range=float(value_range), step=0.01, key_step=0.1,
                image_px=int(image_px), pad_px=196, fold_inactive=True)
    data = _data(key, "browser", latent_dim, exported["image_shape"], shown, 0, opts)
    data.update(weights_hash=exported["hash"], weights=exported)
    _component(key=key, data=_pack(data, blob))


@st.fragment
def _server_fragment(model: torch.nn.Module, shown: np.ndarray, key: str, opts: dict[str, Any]) -> None:
    """The component inside a fragment: drag requests rerun only this, not the page."""
    _mount(model, shown, key, "server", opts)


def _mount(model: torch.nn.Module, shown: np.ndarray, key: str, mode: str, opts: dict[str, Any]) -> None:
    latent_dim = int(model.config.latent_dim)
    priv = _private(key)
    on_change = opts["on_change"]

    def on_z() -> None:
        payload = (st.session_state.get(key) or {}).get("z")
        if not isinstance(payload, dict):
            return
        z = _as_z(payload.get("values"), latent_dim, f"latent control {key!r}: z from the browser")
        priv.update(committed=z, returned=False, echo_seq=int(payload.get("seq") or 0))
        if on_change is not None:
            on_change(z.copy())

    def on_drag() -> None:
        payload = (st.session_state.get(key) or {}).get("drag")
        if not isinstance(payload, dict):
            return
        z = _as_z(payload.get("z"), latent_dim, f"latent control {key!r}: z from the browser")
        priv["reply"] = {"seq": int(payload.get("seq") or 0), "z": z,
                         "image": base64.b64encode(server_decode_bytes(model, z)).decode("ascii")}

    def on_need_weights() -> None:
        priv["sent_hash"] = None

    def on_browser_failed() -> None:
        reason = (st.session_state.get(key) or {}).get("browser_failed")
        if reason:
            priv["browser_failed"] = str(reason)[:200]

    data = _data(key, mode, latent_dim, model.config.image_shape, shown, priv["echo_seq"], opts)
    blob = b""
    if mode == "browser":
        exported, weights = _cached_export(model)
        data["weights_hash"] = exported["hash"]
        if priv["sent_hash"] != exported["hash"]:
            data["weights"], blob = exported, weights
    elif mode == "onnx":
        exp = _cached_onnx(model)
        data["weights_hash"] = exp["hash"]
        data["ort_base"] = _ort_base()
        if priv["sent_hash"] != exp["hash"]:
            data["onnx"] = {k: v for k, v in exp.items() if k != "onnx"}
            data["onnx"]["at"] = [0, len(exp["onnx"])]
            blob = exp["onnx"]
    else:
        reply, priv["reply"] = priv["reply"], None
        if reply is not None:
            data.update(image=reply["image"], image_seq=reply["seq"], image_z=[float(v) for v in reply["z"]])
        else:
            display = priv["display"]
            if display is None or not np.array_equal(display[0], shown) or display[2] is not model:
                display = (shown.copy(), base64.b64encode(server_decode_bytes(model, shown)).decode("ascii"), model)
                priv["display"] = display
            data.update(image=display[1], image_seq=None, image_z=[float(v) for v in shown])

    # JSON bytes, not the dict: Streamlit looks for dataframes in a dict's values (importing pandas and
    # pyarrow, 0.3-0.5 s on a fresh server's first run) and serialises it twice (proto and identity)
    payload = _pack(data, blob)
    _component(key=key, data=payload, on_z_change=on_z, on_drag_change=on_drag,
               on_need_weights_change=on_need_weights, on_browser_failed_change=on_browser_failed)
    if mode in ("browser", "onnx"):
        priv["sent_hash"] = data["weights_hash"]

    # A commit inside a fragment rerun (always so in server mode) must reach the rest of the app.
    if priv["committed"] is not None and not priv["returned"] and _in_fragment_rerun():
        if mode == "server" or opts["rerun_app"]:
            st.rerun(scope="app")
