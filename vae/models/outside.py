"""Outside models: any torch module that meets the protocol (vae/models/protocol.py), named as

    path/to/file.py:function      a Python file, imported by path (its folder is on sys.path while it runs)
    package.module:function       a module importable from the current sys.path

`function()` is called with no arguments and returns the torch.nn.Module. Weights come from a
safetensors file (`weights=`), loaded with load_state_dict(strict=True), or are left to the function.
Nothing is unpickled.

This runs the user's code on the user's machine, as importing it would. A hosted server
(VAE_EXPLORER_HOSTED=1) never imports outside code: `load_outside` refuses before any import.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from vae.models.protocol import ProtocolConfig, ProtocolError, ProtocolVAE, check_declared

HOSTED_REFUSAL = ("outside Python models are not opened on a hosted server (VAE_EXPLORER_HOSTED=1): it never "
                  "imports outside code; export the model to ONNX (encoder.onnx, decoder.onnx, vae.json) and upload it")


def hosted() -> bool:
    """True on a hosted server (the same switch as vae.ui.hosting.hosted, read without Streamlit)."""
    return os.environ.get("VAE_EXPLORER_HOSTED", "").strip().lower() in ("1", "true", "yes", "on")


def looks_like_spec(text: str) -> bool:
    """True when `text` names an outside model (`file.py:fn` or `pkg.mod:fn`) rather than a checkpoint path."""
    text = str(text)
    if ":" not in text or Path(text).exists():
        return False
    target, _, fn = text.rpartition(":")
    return bool(target) and fn.isidentifier()


class OutsideVAE(ProtocolVAE):
    """The protocol adapter over a user's torch module (`inner`, a registered submodule)."""

    def __init__(self, inner: nn.Module, config: ProtocolConfig, where: str, checkpoint_info: dict | None = None):
        super().__init__(config, where, checkpoint_info)
        self.inner = inner

    def _encode(self, x: torch.Tensor):
        return self.inner.encode(x)

    def _decode(self, z: torch.Tensor):
        return self.inner.decode(z)

    def _default_log_sigma(self) -> Any:
        value = getattr(self.inner, "log_sigma", None)
        return 0.0 if value is None else value


def _import_target(target: str, where: str):
    """The module named by `target`: a .py file path or a dotted module name."""
    if target.endswith(".py") or "/" in target or os.sep in target:
        path = Path(target).expanduser()
        if not path.is_file():
            raise ProtocolError(f"{where}: no such Python file {target}")
        name = "vae_outside_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ProtocolError(f"{where}: cannot import {target} as a Python file")
        module = importlib.util.module_from_spec(spec)
        folder = str(path.resolve().parent)
        sys.path.insert(0, folder)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 - the user's file failed to import: one line naming it
            sys.modules.pop(name, None)
            raise ProtocolError(f"{where}: importing {path.name} raised {type(e).__name__}: {e}") from e
        finally:
            try:
                sys.path.remove(folder)
            except ValueError:
                pass
        return module
    if not all(part.isidentifier() for part in target.split(".")):
        raise ProtocolError(f"{where}: {target!r} is neither a .py file nor a dotted module name")
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as e:
        raise ProtocolError(f"{where}: no module named {e.name!r}") from e
    except Exception as e:  # noqa: BLE001
        raise ProtocolError(f"{where}: importing {target} raised {type(e).__name__}: {e}") from e


def build_outside_module(spec: str) -> nn.Module:
    """Import `spec` ("file.py:fn" or "pkg.mod:fn") and call fn(); the nn.Module it returns. Raises ProtocolError."""
    if hosted():
        raise ProtocolError(HOSTED_REFUSAL)
    target, sep, fn_name = str(spec).rpartition(":")
    if not sep or not target or not fn_name.isidentifier():
        raise ProtocolError(f"{spec}: name an outside model as path/to/file.py:function or package.module:function")
    module = _import_target(target, spec)
    fn = getattr(module, fn_name, None)
    if fn is None:
        raise ProtocolError(f"{spec}: {target} has no attribute {fn_name!r}")
    if not callable(fn):
        raise ProtocolError(f"{spec}: {fn_name} is a {type(fn).__name__}, not a function")
    try:
        model = fn()
    except Exception as e:  # noqa: BLE001
        raise ProtocolError(f"{spec}: {fn_name}() raised {type(e).__name__}: {e}") from e
    if not isinstance(model, nn.Module):
        raise ProtocolError(f"{spec}: {fn_name}() returned a {type(model).__name__}, not a torch.nn.Module")
    for name in ("encode", "decode"):
        if not callable(getattr(model, name, None)):
            raise ProtocolError(f"{spec}: the model has no {name}() method (the protocol needs encode(x) -> "
                                "(mu, logvar) and decode(z))")
    return model


def load_weights(model: nn.Module, weights: str | Path, where: str) -> None:
    """Load a safetensors file into `model` with load_state_dict(strict=True). Raises ProtocolError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(weights).expanduser()
    if path.suffix.lower() != ".safetensors":
        raise ProtocolError(f"{where}: --weights must be a .safetensors file (nothing is unpickled), got {path.name}")
    if not path.is_file():
        raise ProtocolError(f"{where}: no such weights file {path.name}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ProtocolError(f"{where}: {path.name} is not a readable safetensors file: {e}") from e
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} ({', '.join(unexpected[:3])}"
                         f"{', ...' if len(unexpected) > 3 else ''})")
        raise ProtocolError(f"{where}: {path.name} does not match the model's parameters: {'; '.join(parts)}")
    for k, t in own.items():
        if tuple(state[k].shape) != tuple(t.shape):
            raise ProtocolError(f"{where}: {path.name}: {k} has shape {tuple(state[k].shape)}, the model's is "
                                f"{tuple(t.shape)}")
    model.load_state_dict(state, strict=True)


def load_outside(spec: str, weights: str | Path | None = None, device: str | torch.device = "cpu",
                 dataset: str | None = None) -> OutsideVAE:
    """An outside model as an OutsideVAE in eval mode on `device`, validated on a probe batch.

    spec: "path/to/file.py:function" or "package.module:function"; weights: a .safetensors file or None;
    dataset: a data set name recorded as the model's own (`checkpoint_info["dataset"]`), or None.
    Raises ProtocolError with one line naming the problem (hosted mode: refused before any import).
    """
    module = build_outside_module(spec)
    config = check_declared(module, spec)
    if weights is not None:
        load_weights(module, weights, spec)
    info = {"dataset": {"name": dataset}} if dataset else {}
    model = OutsideVAE(module, config, spec, info)
    model.to(torch.device(device))
    model.probe()
    model.requires_grad_(False)
    return model


def outside_identity(spec: str, weights: str | Path | None) -> str:
    """16 hex digits over the source file's bytes (for file specs), the spec, and the weights' bytes."""
    h = hashlib.sha256(str(spec).encode())
    target = str(spec).rpartition(":")[0]
    for p in (Path(target) if target.endswith(".py") else None, Path(weights) if weights else None):
        if p is not None and p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()[:16]
