"""How a latent dimension is named to people: one numbering on every page, in every export and in the CLI.

The library indexes dimensions from 0 (``mu[:, i]``); people see them counted from 1: index ``i`` is
``z{i + 1}``, its CSV columns ``mu_{i + 1}`` / ``sigma_{i + 1}``. Use these helpers, never ``f"z{i}"``.
"""

from __future__ import annotations

INACTIVE_KL = 0.01              # nats: a dimension with less mean KL than this is "inactive" (Decode sliders)


def dim_number(i: int) -> int:
    """The number shown for the library's dimension index i (0-based in, 1-based out)."""
    return int(i) + 1


def dim_label(i: int) -> str:
    """'z3' for the library's dimension index 2."""
    return f"z{dim_number(i)}"
