"""What pages share about the gallery: the Gallery object, opening an entry, ownership, Compare's candidates.

A gallery model is a model source like the bundled ones: its key is `gallery:<id>` (the sidebar's
"Gallery" source and the `model=` parameter of a shared link), its LoadedModel has source "gallery"
and `ref` "gallery:<id>". Hosted, an entry belongs to the browser whose secret cookie published it;
locally the gallery is the user's own folder of models, and every entry is theirs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import streamlit as st

from vae.gallery import Entry, Gallery, gallery_dir
from vae.ui import loaders
from vae.ui.hosting import hosted
from vae.ui.hosting.owner import owner_token

PREFIX = "gallery:"
COMPARE_REQUESTS = "_gallery_to_compare"     # labels the Gallery page asked the Compare page to add
OPEN_REQUEST = "_gallery_open"                # an entry id the Gallery page asked the app to open


@st.cache_resource(show_spinner=False)
def _gallery(folder: str) -> Gallery:
    return Gallery(folder)


def gallery() -> Gallery:
    """The gallery of this server ($VAE_GALLERY_DIR), opened once per process (which sweeps leftovers)."""
    return _gallery(str(gallery_dir()))


def entries(dataset: str | None = None) -> list[Entry]:
    try:
        return gallery().list(dataset)
    except Exception:  # noqa: BLE001 - an unreadable gallery must not break every page's sidebar
        return []


def can_edit(entry: Entry) -> bool:
    """Rename / delete: the owner's browser when hosted; locally the gallery is the user's own."""
    return not hosted() or entry.owned_by(owner_token())


def open_entry(entry_id: str, device: str) -> loaders.LoadedModel:
    """The entry as a LoadedModel (cached by content like any checkpoint). Raises GalleryError, CheckpointError."""
    g = gallery()
    entry = g.get(entry_id)
    lm = loaders.load_folder(g.blobs / entry.content, device, "gallery", label=entry.name)
    return dataclasses.replace(lm, ref=f"{PREFIX}{entry.id}")


def label(entry: Entry) -> str:
    return f"{entry.name} · {entry.dataset or '?'} · {entry.id}"


def sidebar_select(device: str) -> loaders.LoadedModel | None:
    """The sidebar's Gallery source: a selectbox of every entry; the chosen one opened."""
    found = {e.id: e for e in entries()}
    if st.session_state.get("sb_gallery") not in found:
        st.session_state.pop("sb_gallery", None)
    if not found:
        st.caption("The gallery is empty: publish a model from the Train page or the sidebar.")
        return None
    entry_id = st.selectbox("Gallery model", list(found), format_func=lambda i: label(found[i]), key="sb_gallery")
    return open_entry(entry_id, device)


def request_open(entry_id: str) -> None:
    """on_click of "Open": make the sidebar show this entry (callbacks run before the widgets exist)."""
    st.session_state["sb_source"] = "gallery"
    st.session_state["sb_gallery"] = entry_id
    st.session_state[OPEN_REQUEST] = entry_id


def compare_label(entry: Entry) -> str:
    return f"gallery: {entry.name} ({entry.id})"


def compare_candidates() -> dict[str, Path]:
    """Every gallery entry as a Compare candidate: label -> its checkpoint folder."""
    g = gallery()
    return {compare_label(e): g.blobs / e.content for e in entries()}


def request_compare(entry_id: str) -> None:
    """on_click of "Add to Compare"."""
    e = gallery().get(entry_id)
    wanted = st.session_state.setdefault(COMPARE_REQUESTS, [])
    if compare_label(e) not in wanted:
        wanted.append(compare_label(e))


def take_compare_requests(widget_key: str, labels: list[str]) -> list[str]:
    """Labels asked for on the Gallery page, added to the Compare multiselect's state (before it is drawn)."""
    wanted = [lab for lab in st.session_state.pop(COMPARE_REQUESTS, []) if lab in labels]
    if wanted and widget_key in st.session_state:
        st.session_state[widget_key] = list(dict.fromkeys([*st.session_state[widget_key], *wanted]))
    return wanted
