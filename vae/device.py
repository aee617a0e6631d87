"""Choosing the torch device: cuda, then mps, then cpu, unless told."""

from __future__ import annotations

import torch


def pick_device(preference: str | torch.device | None = "auto") -> torch.device:
    """Return the device to run on.

    "auto" (or None) picks CUDA when present, then Apple's MPS, then the CPU. Any other string is
    passed to `torch.device`; asking for a device that is not available raises a ValueError that
    says which ones are.
    """
    if isinstance(preference, torch.device):
        return preference
    if preference in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(preference)
    except RuntimeError as e:
        raise ValueError(f"unknown device {preference!r}: {e}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {preference!r} asked for, but CUDA is not available here; "
                         f"available: {available_devices()}")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {preference!r} asked for, but MPS is not available here; "
                         f"available: {available_devices()}")
    return device


def available_devices() -> list[str]:
    """Names of the devices this machine can run on, best first, e.g. ["cuda:0", "cpu"]."""
    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    return names + ["cpu"]
