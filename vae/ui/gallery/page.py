"""The Gallery page: every published model with its figures, a leaderboard per data set, and what to do with one.

    leaderboard rows   rank (by IWAE log p(x) within its data set, higher is better), name, data set,
                       architecture, IWAE log p(x), test ELBO, gap IWAE - ELBO (nats per image), K, n, size, date
    actions            open on every page, add to Compare; rename and delete for the owner only
"""

from __future__ import annotations

import time

import plotly.graph_objects as go
import streamlit as st

from vae.gallery import Entry, GalleryError
from vae.gallery.store import MAX_NAME
from vae.ui.gallery import glue, local_runs
from vae.ui.hosting import hosted

SORTS = {"IWAE log p(x)": lambda e: (e.dataset or "?", e.iwae is None, -(e.iwae or 0.0)),     # a board per data set
         "test ELBO": lambda e: (e.dataset or "?", e.elbo is None, -(e.elbo or 0.0)),
         "newest": lambda e: -e.created,
         "name": lambda e: e.name.lower()}
ALL = "all data sets"


def ranks(entries: list[Entry]) -> dict[str, int]:
    """Rank of each entry (id -> 1, 2, ...) by IWAE log p(x) within its data set; unmeasured entries get none."""
    out: dict[str, int] = {}
    for ds in {e.dataset for e in entries}:
        scored = sorted((e for e in entries if e.dataset == ds and e.iwae is not None), key=lambda e: -e.iwae)
        out.update({e.id: i + 1 for i, e in enumerate(scored)})
    return out


def _r(v, digits=2):
    return None if v is None else round(v, digits)


def table(entries: list[Entry], rank: dict[str, int]) -> list[dict]:
    return [{"rank": rank.get(e.id), "name": e.name, "data set": e.dataset or "?", "architecture": e.architecture,
             "IWAE log p(x)": _r(e.iwae), "test ELBO": _r(e.elbo),
             "gap": _r(e.iwae - e.elbo) if e.iwae is not None and e.elbo is not None else None,
             "K": e.iwae_k, "n": e.n_test, "MB": round(e.size / 2**20, 2),
             "published": time.strftime("%Y-%m-%d %H:%M", time.gmtime(e.created)),
             "yours": "yes" if glue.can_edit(e) else "", "id": e.id, "note": e.note} for e in entries]


def figure(entries: list[Entry]) -> go.Figure:
    """IWAE log p(x) against test ELBO, one point per measured entry, one colour per data set."""
    fig = go.Figure()
    for ds in sorted({e.dataset or "?" for e in entries}):
        pts = [e for e in entries if (e.dataset or "?") == ds and e.iwae is not None and e.elbo is not None]
        if pts:
            fig.add_scatter(x=[e.elbo for e in pts], y=[e.iwae for e in pts], mode="markers+text", name=ds,
                            text=[e.name for e in pts], textposition="top center", marker=dict(size=10))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="test ELBO (nats per image)",
                      yaxis_title="IWAE log p(x) (nats per image)", title="log p(x) against its lower bound")
    return fig


def show() -> None:
    st.title("Gallery")
    if hosted():
        st.caption("Models published on this server by everyone. Open any of them on every page, add it to "
                   "Compare, or share a link to it; only whoever published a model can rename or delete it.")
    else:
        st.caption(f"Your own published models (the folder `{glue.gallery_dir()}`, set by VAE_GALLERY_DIR), and "
                   "below them your runs not yet published. Publish a model from the Train page or the sidebar.")
    if st.session_state.pop(glue.OPEN_REQUEST, None):
        st.switch_page("pages/decode.py")
    everything = glue.entries()
    if not everything:
        st.info("No models yet: train one on the Train page and press **Publish**, or publish the sidebar's model.")
        if st.session_state.get("_gal_done"):
            st.success(st.session_state.pop("_gal_done"))
        local_runs.show_local_runs()
        return
    c1, c2 = st.columns(2)
    datasets = sorted({e.dataset or "?" for e in everything})
    choice = c1.selectbox("Data set", [ALL, *datasets], key="gal_dataset")
    sort = c2.selectbox("Sort by", list(SORTS), key="gal_sort")
    shown = [e for e in everything if choice == ALL or (e.dataset or "?") == choice]
    shown.sort(key=SORTS[sort])
    rank = ranks(everything)
    st.dataframe(table(shown, rank), hide_index=True, width="stretch", key="gal_table",
                 column_config={"IWAE log p(x)": st.column_config.NumberColumn(format="%.2f", help=(
                     "importance-weighted estimate of test log p(x), nats per image (higher is better)")),
                                "test ELBO": st.column_config.NumberColumn(format="%.2f"),
                                "gap": st.column_config.NumberColumn(format="%.2f", help="IWAE - ELBO")})
    st.caption("Figures: nats per image on the first n test images of the model's data set, IWAE with K importance "
               "samples, measured when it was published; rank is by IWAE within its data set.")
    if any(e.iwae is not None for e in shown):
        st.plotly_chart(figure(shown), key="gal_fig", config={"displayModeBar": False})
    _actions(shown)
    local_runs.show_local_runs()


def _actions(shown: list[Entry]) -> None:
    st.subheader("A model")
    if st.session_state.get("_gal_done"):
        st.success(st.session_state.pop("_gal_done"))
    by_id = {e.id: e for e in shown}
    if st.session_state.get("gal_pick") not in by_id:
        st.session_state.pop("gal_pick", None)
    entry_id = st.selectbox("Model", list(by_id), format_func=lambda i: glue.label(by_id[i]), key="gal_pick")
    e = by_id[entry_id]
    if e.note:
        st.markdown(f"> {e.note}")
    a1, a2 = st.columns(2)
    a1.button("Open on every page", key="gal_open", on_click=glue.request_open, args=(e.id,), type="primary",
              icon=":material/open_in_new:", width="stretch")
    if a2.button("Add to Compare", key="gal_compare", on_click=glue.request_compare, args=(e.id,),
                 icon=":material/compare:", width="stretch"):
        st.success(f"{e.name} will be among the models on the Compare page.")
    if not glue.can_edit(e):
        st.caption("Only whoever published this model can rename or delete it.")
        return
    r1, r2 = st.columns([3, 1], vertical_alignment="bottom")
    new = r1.text_input("New name", value=e.name, max_chars=MAX_NAME, key=f"gal_new_name_{e.id}")
    rename = r2.button("Rename", key="gal_rename", icon=":material/edit:", width="stretch")
    if rename:
        _do(lambda: glue.gallery().rename(e.id, new, glue.owner_token(), operator=not hosted()), f"Renamed to {new.strip()}.")
    d1, d2 = st.columns([3, 1], vertical_alignment="bottom")
    sure = d1.checkbox(f"Yes, delete {e.name}", key=f"gal_sure_{e.id}")
    if d2.button("Delete", key="gal_delete", disabled=not sure, icon=":material/delete:", width="stretch"):
        _do(lambda: glue.gallery().delete(e.id, glue.owner_token() if hosted() else None, operator=not hosted()),
            f"Deleted {e.name}.")


def _do(action, done: str) -> None:
    try:
        action()
    except GalleryError as err:
        st.error(str(err))
        return
    st.session_state["_gal_done"] = done
    st.rerun()
