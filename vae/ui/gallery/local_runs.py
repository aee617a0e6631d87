"""Locally, the Gallery page also lists the person's own runs: checkpoint folders under `runs/` (where
`python -m vae train --out runs/NAME` writes) that are not in the gallery yet, each one click from it.

Never on a hosted server (no browser names or lists server folders there).
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from vae.gallery import content_hash
from vae.ui.gallery import glue
from vae.ui.gallery.publish import publish_files

MAX_RUNS = 200          # folders listed at most, newest first
MAX_DEPTH = 3           # runs/NAME, runs/SWEEP/NAME, runs/SWEEP/GROUP/NAME


def runs_root() -> Path:
    """$VAE_RUNS_DIR, else `runs/` in the folder the app was started from."""
    raw = os.environ.get("VAE_RUNS_DIR", "").strip()
    return Path(raw).expanduser() if raw else Path.cwd() / "runs"


def run_folders(root: Path, max_depth: int = MAX_DEPTH, limit: int = MAX_RUNS) -> list[Path]:
    """Checkpoint folders (config.json + model.safetensors) under `root`, newest first, at most `limit`."""
    found: list[Path] = []
    if not root.is_dir():
        return found
    frontier = [(root, 0)]
    while frontier and len(found) < 10 * limit:
        folder, depth = frontier.pop()
        try:
            children = [c for c in folder.iterdir() if c.is_dir() and not c.is_symlink() and not c.name.startswith(".")]
        except OSError:
            continue
        for child in children:
            if (child / "config.json").is_file() and (child / "model.safetensors").is_file():
                found.append(child)
            elif depth + 1 < max_depth:
                frontier.append((child, depth + 1))
    found.sort(key=lambda p: (p / "model.safetensors").stat().st_mtime, reverse=True)
    return found[:limit]


def _content(folder: Path) -> str | None:
    from vae.checkpoint import read_checkpoint_folder

    try:
        return content_hash(read_checkpoint_folder(folder))
    except Exception:  # noqa: BLE001 - a half-written or foreign folder is just not offered
        return None


@st.cache_data(max_entries=512, show_spinner=False)
def _content_cached(folder: str, mtime: float) -> str | None:
    return _content(Path(folder))


def unpublished_runs(root: Path) -> list[Path]:
    """Run folders under `root` whose files are not the content of any gallery entry."""
    published = {e.content for e in glue.entries()}
    out = []
    for folder in run_folders(root):
        c = _content_cached(str(folder), (folder / "model.safetensors").stat().st_mtime)
        if c is not None and c not in published:
            out.append(folder)
    return out


def show_local_runs() -> None:
    """The "Your runs" section: runs not yet in the gallery, and a button that adds the chosen one."""
    from vae.checkpoint import read_checkpoint_folder
    from vae.ui.hosting import hosted

    if hosted():
        return
    root = runs_root()
    runs = unpublished_runs(root)
    st.subheader("Your runs, not yet in the gallery")
    if not runs:
        st.caption(f"Every run under `{root}` is in the gallery (or there are none yet): "
                   "`python -m vae train --out runs/NAME` writes one there.")
        return
    rel = {str(p): str(p.relative_to(root)) for p in runs}
    pick = st.selectbox(f"A run under `{root}` ({len(runs)} not in the gallery)", list(rel), format_func=rel.get,
                        key="gal_local_run")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    name = c1.text_input("Name in the gallery", value=rel[pick][-80:], max_chars=80, key="gal_local_name")
    if c2.button("Add to the gallery", key="gal_local_add", icon=":material/add:", width="stretch"):
        try:
            entry, why = publish_files(read_checkpoint_folder(pick), name, "")
        except Exception as e:  # noqa: BLE001 - GalleryError (limits, names), CheckpointError, OSError
            st.error(f"Not added: {str(e) or type(e).__name__}")
        else:
            st.session_state["_gal_done"] = (f"Added **{entry.name}** to the gallery" + (f"; {why}" if why else "")
                                             + ".")
            st.rerun()
