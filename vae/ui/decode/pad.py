"""The Decode pad's two dimensions: two selectboxes beside the latent control, kept in the page's link.

The boxes hold the dimensions' numbers as people see them (z3 is 3: vae.dims.dim_number), so the link
parameters padx / pady read the same as the sliders' labels (vae.ui.url_state.PAGE_PARAMS). The boxes sit in
the Decode fragment, whose reruns never reach app.py's url_state bookkeeping: each draw keeps the pick there
itself (url_state.keep_page_setting), so a page switch, a reload and a link all find it.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from vae.dims import dim_number
from vae.ui import url_state

PAD_X, PAD_Y = "dec_pad_x", "dec_pad_y"


def pad_numbers(latent_dim: int, order: Sequence[int]) -> tuple[int, int]:
    """The pad's (horizontal, vertical) dimension numbers (1-based) for a model of `latent_dim`: the kept
    choice when it fits this model (two different numbers in 1..latent_dim), else the first two of `order`
    (most KL first). Writes the pick back to session state, before the selectboxes are drawn."""
    x, y = url_state.page_setting(PAD_X), url_state.page_setting(PAD_Y)
    fits = all(isinstance(v, int) and 1 <= v <= latent_dim for v in (x, y)) and x != y
    if not fits:
        x, y = (dim_number(int(d)) for d in list(order)[:2])
    st.session_state[PAD_X], st.session_state[PAD_Y] = x, y
    return x, y


def _keep_pad_apart(changed: str, other: str, before: int) -> None:
    """on_change of one pad box: picking the other box's dimension swaps the two (the pad needs two)."""
    if st.session_state.get(changed) == st.session_state.get(other):
        st.session_state[other] = before


def pad_pickers(latent_dim: int, order: Sequence[int], label) -> tuple[int, int]:
    """Two selectboxes choosing the pad's dimensions (`label(index)` names each); returns their library
    indices (horizontal, vertical), 0-based, for latent_control's pad_dims."""
    x, y = pad_numbers(latent_dim, order)
    numbers = [dim_number(int(d)) for d in order]           # the sliders' order: most KL first
    c1, c2, _ = st.columns([1, 1, 1.2])            # beside the pad, not across the page
    x = c1.selectbox("Pad → (left-right)", numbers, key=PAD_X, format_func=lambda n: label(n - 1),
                     on_change=_keep_pad_apart, args=(PAD_X, PAD_Y, x),
                     help="the dimension the pad moves horizontally; its slider moves with the pad")
    y = c2.selectbox("Pad ↑ (down-up)", numbers, key=PAD_Y, format_func=lambda n: label(n - 1),
                     on_change=_keep_pad_apart, args=(PAD_Y, PAD_X, y),
                     help="the dimension the pad moves vertically; its slider moves with the pad")
    for key, value in ((PAD_X, x), (PAD_Y, y)):
        url_state.keep_page_setting(key, value)
    return x - 1, y - 1
