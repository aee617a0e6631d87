"""The latent control's per-key session state (what was sent, committed, returned) and the run it is in."""

from __future__ import annotations

from typing import Any

import streamlit as st


def _private(key: str) -> dict[str, Any]:
    name = f"_latent_control::{key}"
    if name not in st.session_state:
        st.session_state[name] = {"sent_hash": None, "committed": None, "returned": True, "echo_seq": 0,
                                  "reply": None, "display": None, "browser_failed": None}
    return st.session_state[name]


def _in_fragment_rerun() -> bool:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)
