"""The sidebar drawn once per run in app.py: model, dataset, device; download the model.

`draw_sidebar()` returns an AppContext and stashes it for the pages (`current()`). A bad upload
or an unreadable dataset shows an st.error and keeps the previous model / leaves the dataset empty;
nothing here raises.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from vae.dataset_names import is_idx_dataset
from vae.device import available_devices

from vae.ui import hosting
from vae.ui import loaders
from vae.ui import outside
from vae.ui.hosting import owner, scratch
from vae.ui.hosting.janitor import current_session_id
from vae.ui import state
from vae.ui.training import jobs as training
from vae.ui.gallery import glue as gallery_glue
from vae.ui.gallery import publish as gallery_publish
from vae.ui.bundled import DEFAULT_BUNDLED
from vae.ui.loaders import DatasetSpec, LoadedModel

_CTX = "_vae_context"
_LAST_MODEL = "_vae_last_model"
_DEFAULT_BUNDLED = DEFAULT_BUNDLED
SOURCES = {"outside": "Your model", "bundled": "Bundled", "trained": "Trained in this session",
           "upload": "Upload a checkpoint", "gallery": "Gallery"}
FOLDER_OPTION = "image folder / zip"


@dataclass
class AppContext:
    """What every page works with."""

    bid: str                                  # this browser's id (training jobs are keyed by it)
    device: str                               # torch device string
    lm: LoadedModel | None                    # the model to explore
    dataset: object | None = None             # vae.data.ImageDataset fitting the model, or None
    spec: DatasetSpec | None = None           # how `dataset` was loaded
    dataset_note: str | None = None           # why there is no dataset, when there is none

    @property
    def dataset_key(self) -> str:
        return self.spec.key if self.spec is not None else ""


def current() -> AppContext:
    """The context the sidebar drew in this run (pages call this)."""
    if _page_run_on_its_own():
        return _sidebar_as_from_app_py()
    ctx = st.session_state.get(_CTX)
    if ctx is None:
        ctx = draw_sidebar()
    return ctx


def current_with_model() -> AppContext:
    """`current()` for pages that need a model: without one, says so and stops the page."""
    ctx = current()
    if ctx.lm is None:
        st.info("No model: choose or upload one in the sidebar, or train one on the Train page.")
        state.stop()
    return ctx


_RERAN = "_vae_left_pages_dir_mode"


def _page_run_on_its_own() -> bool:
    """True when Streamlit ran this page script directly instead of through app.py.

    Because the pages live in `pages/`, Streamlit starts in its old multipage mode, in which a
    fresh server's first request for a page URL (say /train) runs pages/train.py itself, never
    app.py (AppTest does this on every run). The mode is switched off here and the session reruns
    once through app.py; should it happen again, the sidebar is drawn from the page instead
    (_sidebar_as_from_app_py: with the same widget ids).
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a Streamlit without this class has no such mode
        return False
    if not PagesManager.uses_pages_directory:
        return False
    PagesManager.uses_pages_directory = False
    if not st.session_state.get(_RERAN):
        st.session_state[_RERAN] = True
        st.rerun()
    return True


def _sidebar_as_from_app_py() -> AppContext:
    """draw_sidebar from a page script run on its own, with the widget ids app.py's sidebar has.

    Streamlit puts the running script's hash into every widget id, keyed or not: drawn under the
    page's hash, the sidebar's widgets were new widgets, so a value just picked there (AppTest: a
    "Shapes to draw" size) fell back to its default. Drawn under the main script's hash, as app.py
    draws it, they are the same widgets."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    run_ctx = get_script_run_ctx()
    as_main = getattr(run_ctx, "run_with_active_hash", None)
    main_hash = getattr(getattr(run_ctx, "pages_manager", None), "main_script_hash", None)
    if as_main is None or not main_hash:  # pragma: no cover - another Streamlit: ids as the page gives them
        return draw_sidebar()
    with as_main(main_hash):
        return draw_sidebar()


def draw_sidebar() -> AppContext:
    bid = state.browser_id()
    training.seen(bid, current_session_id())
    sb = st.sidebar
    with sb:
        st.markdown("### Model")
        devices = available_devices()
        device = st.selectbox("Device", devices, key="sb_device",
                              help="Where the model runs. Training uses the device chosen on the Train page.")
        lm = _model_section(bid, device)
        ctx = AppContext(bid=bid, device=device, lm=lm)
        if lm is not None:
            _describe_model(lm)
            gallery_publish.sidebar_publish(lm)
            st.download_button("Download model (.zip)", data=lm.zip_bytes, file_name=f"{_safe(lm.label)}.zip",
                               mime="application/zip", on_click="ignore", key="sb_download",
                               width="stretch", icon=":material/download:")
            st.markdown("### Dataset")
            _dataset_section(ctx)
        owner.remember_in_browser()
    st.session_state[_CTX] = ctx
    return ctx


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-") or "model"


def _describe_model(lm: LoadedModel) -> None:
    c = lm.model.config
    n = lm.model.num_parameters()
    mb = sum(len(d) for name, d in lm.files or () if name.endswith('.onnx')) / 1e6
    # two significant digits below 0.1 MB: a small upload read "0.0 MB of ONNX graphs"
    size = f"{n:,} parameters" if n or lm.source != "onnx" else \
        f"{mb:.1f} MB of ONNX graphs" if mb >= 0.1 else f"{mb:.2g} MB of ONNX graphs"
    st.caption(f"{c.arch}, {c.latent_dim}-d latent, images {'x'.join(map(str, c.image_shape))}, {size} "
               f"· id `{lm.id[:8]}`")


def _model_section(bid: str, device: str) -> LoadedModel | None:
    bundled = loaders.bundled_models()
    job = training.job_for(bid)
    request = outside.parse_request()               # -- --model file.py:fn (or VAE_EXPLORER_MODEL), server-side only
    if request is not None and hosting.hosted():
        st.error(f"--model {request.label} refused: {outside.hosted_refusal()}")
        request = None
    sources = ((["outside"] if request is not None else []) + (["bundled"] if bundled else [])
               + (["trained"] if job is not None else []) + ["upload"])
    sources += ["gallery"] if gallery_glue.entries() or st.session_state.get("sb_source") == "gallery" else []
    if st.session_state.get("sb_source") not in sources:      # a new session (a reload): this browser's last choice
        remembered = training.remembered_source(bid)
        st.session_state["sb_source"] = remembered if remembered in sources else sources[0]
    source = st.radio("Source", sources, format_func=SOURCES.get, key="sb_source", label_visibility="collapsed")
    training.remember_source(bid, source)
    previous: LoadedModel | None = st.session_state.get(_LAST_MODEL)
    lm, error = None, None
    try:
        if source == "bundled":
            names = list(bundled)
            default = names.index(_DEFAULT_BUNDLED) if _DEFAULT_BUNDLED in names else 0
            name = st.selectbox("Checkpoint", names, index=default, key="sb_bundled")
            lm = loaders.load_folder(bundled[name], device, "bundled")
        elif source == "outside":
            weights = f" with `{os.path.basename(request.weights)}`" if request.weights else ""
            st.caption(f"`{request.label}`{weights}")
            lm = outside.load_requested(request, device)
        elif source == "trained":
            lm = loaders.load_trained(bid, job, device)
            if lm is None:
                st.info("The job has not finished an epoch yet; showing the previous model.")
        elif source == "gallery":
            lm = gallery_glue.sidebar_select(device)
        else:
            lm, error = _upload_section(device)
    except Exception as e:  # CheckpointError, ConfigError, ProtocolError, OSError: show, keep the previous model
        error = str(e) or type(e).__name__
    if error:
        st.error(f"Could not open this {'checkpoint' if source == 'bundled' else 'model'}: {error}")
    if lm is None:
        lm = previous if previous is not None and (previous.device.type == device.split(":")[0]) else None
        if lm is None and bundled:  # first run with nothing usable: the bundled default
            name = _DEFAULT_BUNDLED if _DEFAULT_BUNDLED in bundled else next(iter(bundled))
            try:
                lm = loaders.load_folder(bundled[name], device, "bundled")
            except Exception as e:
                st.error(f"Could not open the bundled checkpoint {name}: {e}")
        if lm is not None and (error or source != "bundled"):
            st.caption(f"Still showing: **{lm.label}**")
    if lm is None and not bundled:
        st.warning(f"No bundled checkpoints in {loaders.ASSETS_DIR}; train one on the Train page or upload one.")
    st.session_state[_LAST_MODEL] = lm
    return lm


_UPLOADS = "_sb_upload_round"        # the uploader's key suffix: a new one empties the uploader
_UPLOAD_ERROR = "_sb_upload_error"    # why the last upload was refused, shown until the next upload


def _upload_section(device: str) -> tuple[LoadedModel | None, str | None]:
    """The checkpoint uploader: (the uploaded model or None, why the last upload was refused or None).

    A refused upload is taken out of the uploader (a new widget key) and its error kept in session
    state, so the next upload is judged on its own files, not together with the refused ones.
    """
    round_ = st.session_state.setdefault(_UPLOADS, 0)
    # Any file is taken and judged here, so every refusal is this upload's own st.error: a type filter made
    # the browser refuse a .pt by itself, silently, under the previous upload's error (issue 27).
    ups = st.file_uploader("Checkpoint zip, or config.json + model.safetensors; or an ONNX model: a zip of "
                           "encoder.onnx, decoder.onnx and vae.json",
                           type=None, accept_multiple_files=True, key=f"sb_upload_{round_}")
    if not ups:
        return None, st.session_state.get(_UPLOAD_ERROR)
    try:
        files = [(u.name, u.getvalue()) for u in ups]
        lm = outside.load_onnx_upload(files) or loaders.load_uploaded(files, device)
    except Exception as e:  # CheckpointError, ConfigError, ProtocolError, OSError
        why = str(e) or type(e).__name__
        named = why.startswith(tuple(f"{u.name}:" for u in ups))    # the message names the file already
        st.session_state[_UPLOAD_ERROR] = why if named else f"{', '.join(u.name for u in ups)}: {why}"
        st.session_state[_UPLOADS] = round_ + 1
        st.rerun()
    st.session_state.pop(_UPLOAD_ERROR, None)
    return lm, None


def _dataset_section(ctx: AppContext) -> None:
    from vae.data import DATASET_NAMES

    lm = ctx.lm
    own = loaders.spec_from_checkpoint(lm.model)
    names = ([own.name] if own else []) + [n for n in DATASET_NAMES if not own or n != own.name] + [FOLDER_OPTION]
    key = f"sb_dataset_{lm.id}"
    choice = st.selectbox("Dataset", names, key=key,
                          help=f"the model was trained on {own.name}" if own else "the checkpoint names no dataset")
    size, channels = lm.model.config.image_size, lm.model.config.channels
    spec: DatasetSpec | None = None
    if own and choice == own.name:
        spec = own
    elif is_idx_dataset(choice):
        if hosting.hosted():     # the server's own copy or its download cache; no path from the browser
            data_dir = loaders.default_data_dir(choice)
        else:
            folder = st.text_input(f"Folder with the {choice} IDX files (empty: download cache)",
                                   value=loaders.default_data_dir(choice) or "", key=f"sb_dir_{choice}")
            data_dir = _checked_folder(folder, ctx)
            if data_dir is False:
                return
        spec = DatasetSpec(choice, data_dir, (("image_size", size),))
    elif choice == FOLDER_OPTION:
        folder = "" if hosting.hosted() else st.text_input("Folder of images (subfolders = labels)",
                                                             key="sb_img_folder")
        up = st.file_uploader("A zip of images (subfolders = labels)" if hosting.hosted()
                              else "... or a zip of images", type=["zip"], key="sb_img_zip")
        path = None
        if up is not None:
            data = up.getvalue()
            from vae.safeio.durable import atomic_write_bytes

            path = scratch.uploads_dir() / f"vae-upload-{hashlib.sha256(data).hexdigest()[:16]}.zip"
            if not path.exists():
                atomic_write_bytes(path, data)      # two sessions uploading the same zip never read half of it
        elif folder.strip():
            path = _checked_folder(folder, ctx)
            if path is False:
                return
            path = Path(path)
        if path is None:
            ctx.dataset_note = "Upload a zip of images." if hosting.hosted() else "Name a folder of images or upload a zip."
            st.caption(ctx.dataset_note)
            return
        spec = DatasetSpec(f"folder:{path}", None, (("channels", channels), ("image_size", size)))
    else:
        spec = DatasetSpec(choice, None, (("image_size", size),) if choice != "shapes" or size != 32 else ())
    if spec.name == "shapes" and not hosting.hosted():
        spec = _shapes_size(spec)
    _load_into(ctx, spec)


def _shapes_size(spec: DatasetSpec) -> DatasetSpec:
    """`spec` with the number of generated training images the sidebar's "Shapes to draw" picks: as recorded
    (default), or 100,000 / 737,280 (dSprites' size) / 1,000,000 for a big map (not offered when hosted)."""
    options = dict(spec.options)
    recorded = int(options.get("n_train", 20_000))
    sizes = [recorded] + [n for n in loaders.SHAPES_SIZES if n > recorded]
    linked = st.session_state.pop(loaders.SHAPES_LINKED, None)     # a shared link's size (vae.ui.url_state)
    if linked in sizes:
        st.session_state["sb_shapes_n"] = f"{linked:,}"
    n = st.selectbox("Shapes to draw (training split)", [f"{k:,}" for k in sizes], key="sb_shapes_n",
                     help="generated shapes with their factors; a million take a few minutes to draw and to "
                          "encode (both shown), then the Latent map shows them all (split: train)")
    n = int(n.replace(",", ""))
    if n == recorded:
        return spec
    options["n_train"] = n
    return DatasetSpec(spec.name, spec.data_dir, tuple(sorted(options.items())))


def _checked_folder(folder: str, ctx: AppContext) -> str | None | bool:
    """A typed server folder, resolved (None when empty), or False after showing why it is refused."""
    if not folder.strip():
        return None
    try:
        return str(hosting.check_server_path(folder, "folder"))
    except hosting.PathRefused as e:
        ctx.dataset_note = str(e)
        st.error(f"Could not use this folder: {e}")
        return False


def _load_into(ctx: AppContext, spec: DatasetSpec) -> None:
    from vae.data import DataError

    try:
        big_shapes = spec.name == "shapes" and dict(spec.options).get("n_train", 0) >= loaders.SHAPES_SIZES[0]
        ds = loaders.shapes_with_progress(spec) if big_shapes else loaders.load_dataset_cached(spec)
    except DataError as e:
        if is_idx_dataset(spec.name) and spec.data_dir is None:
            ctx.dataset_note = f"{spec.name} is not in the download cache."
            st.caption(ctx.dataset_note)
            if not st.button(f"Download {spec.name}", key=f"sb_dl_{spec.name}", icon=":material/cloud_download:"):
                return
            ds = loaders.download_with_progress(spec)
            if ds is None:
                return
        else:
            ctx.dataset_note = str(e)
            st.error(f"Could not load the dataset: {e}")
            return
    except Exception as e:  # OSError and friends: shown, not raised
        ctx.dataset_note = str(e)
        st.error(f"Could not load the dataset: {type(e).__name__}: {e}")
        return
    misfit = loaders.dataset_fits(ctx.lm.model, ds)
    if misfit:
        ctx.dataset_note = misfit
        st.error(misfit)
        return
    ctx.dataset, ctx.spec = ds, spec
    if getattr(ds, "test_only", False):
        _offer_training_split(ds, spec)
        return
    st.caption(f"{ds.name}: {len(ds.train):,} train / {len(ds.test):,} test images"
               + (f", factors {', '.join(ds.factor_names)}" if ds.factor_names else ""))


def _offer_training_split(ds, spec: DatasetSpec) -> None:
    """Caption for a bundled test split, and a button that downloads the training split."""
    st.caption(f"{ds.name}: the bundled test split ({len(ds.test):,} images). The training split is not "
               f"downloaded; the test split is never used for training.")
    if st.button(f"Download {ds.name}'s training split", key=f"sb_dl_train_{spec.name}",
                 icon=":material/cloud_download:"):
        if loaders.download_with_progress(spec) is not None:
            st.rerun()
