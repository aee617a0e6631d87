"""The "Publish to the gallery" form: a name, an optional note, and the button (Train page and sidebar).

Publishing measures the model's test ELBO and IWAE log p(x) on its own data set (vae.gallery.figures:
the first 1000 test images, K = 100; a progress bar while it runs), then puts a copy of the checkpoint
in the gallery (vae.gallery.Gallery.publish: atomic; over a limit a one-line refusal, nothing written).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from vae.gallery import GalleryError
from vae.gallery.figures import architecture, dataset_name, measure
from vae.ui import loaders
from vae.ui.gallery.glue import gallery
from vae.ui.hosting.owner import owner_token

_RESULT = "_gallery_publish_result_{}"


def _figures(model, bar) -> tuple[dict, str | None]:
    """(figures, why there are none) on the checkpoint's own data set's test split."""
    spec = loaders.spec_from_checkpoint(model)
    if spec is None:
        return {}, "the checkpoint names no data set, so it is published without figures"
    try:
        ds = loaders.load_dataset_cached(spec)
    except Exception as e:  # noqa: BLE001 - DataError, OSError: publish without figures, say why
        return {}, f"{spec.name} could not be loaded ({e}), so it is published without figures"
    if loaders.dataset_fits(model, ds):
        return {}, f"{spec.name}'s images do not fit the model, so it is published without figures"
    return measure(model, ds, progress=lambda done, total: bar.progress(
        done / max(total, 1), text=f"Measuring ELBO and IWAE: {done} of {total} test images")), None


def publish_files(files: dict[str, bytes], name: str, note: str) -> tuple[object, str | None]:
    """Measure and publish; (the Entry, a note about missing figures). Raises GalleryError, CheckpointError."""
    from vae.checkpoint import load_checkpoint_files

    if not str(name or "").strip():
        raise GalleryError("a gallery entry needs a name")
    model = load_checkpoint_files(files, "the model")
    model.eval()
    bar = st.progress(0.0, text="Measuring ELBO and IWAE ...")
    try:
        figures, why = _figures(model, bar)
    finally:
        bar.empty()
    entry = gallery().publish(files, name=name, note=note, owner_token=owner_token(), dataset=dataset_name(model),
                              architecture=architecture(model), **figures)
    return entry, why


def publish_form(key: str, files: Callable[[], dict[str, bytes]], default_name: str = "") -> None:
    """A name, a note and "Publish"; `files()` gives the checkpoint's files when the button is pressed."""
    name = st.text_input("Name in the gallery", value=default_name, max_chars=80, key=f"gal_name_{key}")
    note = st.text_area("Note (optional)", max_chars=500, key=f"gal_note_{key}", height=68)
    go = st.button("Publish", key=f"gal_publish_{key}", icon=":material/publish:", width="stretch")
    if go:
        try:
            entry, why = publish_files(files(), name, note)
        except Exception as e:  # noqa: BLE001 - GalleryError (limits, names), CheckpointError, OSError
            st.session_state[_RESULT.format(key)] = ("error", f"Not published: {str(e) or type(e).__name__}")
        else:
            text = f"Published **{entry.name}** (gallery id `{entry.id}`)" + (f"; {why}" if why else "")
            st.session_state[_RESULT.format(key)] = ("success", text)
    result = st.session_state.get(_RESULT.format(key))
    if result:
        (st.error if result[0] == "error" else st.success)(result[1])
        if result[0] == "success":
            st.page_link("pages/gallery.py", label="Open the gallery", icon=":material/collections:")


def sidebar_publish(lm) -> None:
    """The sidebar's expander for the model shown (bundled, uploaded or trained; not one from the gallery)."""
    if lm is None or lm.source == "gallery":
        return

    def files() -> dict[str, bytes]:
        if lm.files:
            return dict(lm.files)
        from vae.checkpoint import read_checkpoint_folder
        return read_checkpoint_folder(lm.path)

    if not lm.files and lm.path is None:
        return
    with st.expander("Publish to the gallery", icon=":material/publish:"):
        publish_form("sidebar", files, default_name=lm.label[:80] if lm.source != "trained" else "")
