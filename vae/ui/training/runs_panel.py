"""The Train page's list of this browser's runs: a table, the failed runs' errors, and their curves overlaid."""

from __future__ import annotations

import streamlit as st

from vae.ui.training import jobs as training
from vae.ui.training.curves import runs_overlay_figure
from vae.ui.training.run_history import RunRecord, table_rows

SHOW_KEY = "tr_runs_show"               # the multiselect of the runs drawn in the overlay
_HIDDEN = "_tr_runs_hidden"             # labels the user took out of it (a new run is shown at once)


def _hide_unpicked(labels: list[str]) -> None:
    """on_change of the multiselect: remember which runs the user took out."""
    shown = set(st.session_state.get(SHOW_KEY) or [])
    st.session_state[_HIDDEN] = {lab for lab in labels if lab not in shown}


def runs_panel(bid: str) -> None:
    """This browser's runs (oldest kept first, at most run_history.MAX_RUNS), drawn once it has more than one."""
    records: list[RunRecord] = training.runs_of(bid)
    if len(records) < 2:
        return
    st.subheader(f"This browser's runs ({len(records)})")
    st.dataframe(table_rows(records), hide_index=True, width="stretch", key="tr_runs_table")
    for r in records:
        if r.state == "failed":
            st.error(f"{r.label} failed: {r.error}", icon=":material/error:")
    labels = [r.label for r in records]
    # the pick is kept outside the widget (hidden runs), so it survives a page switch and a new run appears shown
    hidden = st.session_state.get(_HIDDEN, set())
    st.session_state[SHOW_KEY] = [lab for lab in labels if lab not in hidden]
    shown = st.multiselect("Runs in the chart", labels, key=SHOW_KEY, on_change=_hide_unpicked, args=(labels,),
                           placeholder="pick runs to draw")
    drawn = [r for r in records if r.label in shown and (r.train_x or r.test_x)]
    if not drawn:
        st.caption("No curve to draw: pick a run that trained at least a few steps.")
        return
    st.plotly_chart(runs_overlay_figure(drawn), key="tr_runs_overlay", config={"displayModeBar": False})
