"""Shareable views: the URL's query parameters carry the model, the map's projection and settings and the
Decode point, so a copied link reopens the same picture in another browser.

    restore_before_sidebar()        app.py, before the sidebar: a new link sets the model and the map's widgets
    restore_after_sidebar(ctx)      app.py, after it: the Decode point and the map's point count (need the model)
    share_box(ctx)                  the sidebar's "Link to this view" button and the link

Parameters: model (a bundled checkpoint's folder name, or gallery:<id> for a gallery model), proj (latent | pca | tsne | umap), dim (2 | 3),
each projection's settings (its Setting.url in vae.analysis.projection_methods: perp for t-SNE's
perplexity, nn for UMAP's neighbours), split (test | train | all), n (points: any the map's "Points"
slider offers, up to every point of the split on the WebGL map), map (webgl | plotly: which draws a 2-D map),
shapes (the sidebar's "Shapes to draw": one of loaders.SHAPES_SIZES, for a shapes model's bigger training split),
z (the Decode point, comma-separated), point (split:index, one data point: vae.ui.point_link), and each page's
own settings (PAGE_PARAMS: Generate's seed, temperature and grid; Decode's pad dimensions padx, pady, numbered
as the sliders).
The page is the URL's path. A link is applied once per session and per link; parameters that do not fit
(an unknown model, a z of another length) are skipped with a note, never an error. Uploaded and
session-trained models cannot travel in a link: the link names them and says so.
"""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import streamlit as st

from vae.analysis.projection_methods import PROJECTIONS as METHOD_REGISTRY
from vae.ui import loaders, point_link
from vae.ui import state
from vae.ui.decode.controls import set_controls
from vae.ui.gallery import glue as gallery_glue
from vae.ui.map import webgl_map as wm

_APPLIED = "_vae_url_applied"
_PENDING = "_vae_url_pending"
_NOTES = "_vae_url_notes"
_SHOW = "_vae_url_show_link"
_MAP = "_vae_url_map_settings"     # the map's widget values, kept when the page changes (Streamlit drops them)
_SETTINGS = [(m.name, s) for m in METHOD_REGISTRY.values() for s in m.settings]    # (method, Setting)
MAP_KEYS = ("map_method_True", "map_method_False", "map_k", "map_split", "map_webgl",
            *(s.state_key for _, s in _SETTINGS))
PROJECTIONS = ("latent", *METHOD_REGISTRY)
SPLITS = ("test", "train", "all")
MAX_Z_DIMS = 256
SHAPES_PARAM = "shapes"
GRID_SIDES = (4, 6, 8, 10, 12, 16)
# a page's own settings in a link: widget key -> (parameter, parse: text -> value or None when it does not fit)
PAGE_PARAMS = {
    "gen_seed": ("seed", lambda v: int(f) if (f := _float(v, 0, 2**31 - 1)) is not None and f == int(f) else None),
    "gen_temp": ("temp", lambda v: round(f / 0.05) * 0.05 if (f := _float(v, 0.0, 2.0)) is not None else None),
    "gen_side": ("grid", lambda v: int(f) if (f := _float(v, 1, 16)) in GRID_SIDES else None),
    # Decode's pad: dimension numbers as the sliders show them (z3 -> 3); the page checks them against the model
    "dec_pad_x": ("padx", lambda v: _dim_number(v)),
    "dec_pad_y": ("pady", lambda v: _dim_number(v)),
}


def _params() -> dict[str, str]:
    return {k: st.query_params.get(k) for k in st.query_params.keys() if k != state.BROWSER_ID_PARAM}


def _dim_number(v) -> int | None:
    f = _float(v, 1, MAX_Z_DIMS)
    return int(f) if f is not None and f == int(f) else None


def _float(v, lo: float, hi: float) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) and lo <= f <= hi else None


def parse_z(text: str | None) -> np.ndarray | None:
    """'0.1,-2,3.5' -> float32 (3,); None when absent or not a list of finite numbers in [-50, 50]."""
    if not text:
        return None
    parts = str(text).split(",")
    if len(parts) > MAX_Z_DIMS:
        return None
    vals = [_float(p, -50.0, 50.0) for p in parts]
    return None if any(v is None for v in vals) else np.asarray(vals, np.float32)


def format_z(z) -> str:
    return ",".join(f"{float(v):.4g}" for v in np.asarray(z).ravel())


def restore_before_sidebar() -> None:
    """Apply a link's model and map settings to the widgets' state (once per session and per link)."""
    _remember_map()
    params = _params()
    sig = tuple(sorted(params.items()))
    if not params or st.session_state.get(_APPLIED) == sig:
        return
    st.session_state[_APPLIED] = sig
    notes: list[str] = []
    model = params.get("model")
    if model:
        bundled = loaders.bundled_models()
        if model in bundled:
            st.session_state["sb_source"] = "bundled"
            st.session_state["sb_bundled"] = model
        elif model.startswith(gallery_glue.PREFIX):
            entry_id = model[len(gallery_glue.PREFIX):]
            if entry_id in {e.id for e in gallery_glue.entries()}:
                st.session_state["sb_source"] = "gallery"
                st.session_state["sb_gallery"] = entry_id
            else:
                notes.append(f"The link names the gallery model {entry_id[:12]!r}, which is no longer in the gallery; "
                             "showing the default.")
        elif model.startswith(("upload:", "trained:")):
            notes.append(f"This link was made with {'an uploaded' if model.startswith('upload') else 'a session-trained'}"
                         f" model (id {model.split(':', 1)[1][:8]}); open the same checkpoint to see the same view.")
        else:
            notes.append(f"The link names the model {model!r}, which is not bundled here; showing the default.")
    proj = params.get("proj")
    if proj in PROJECTIONS:
        st.session_state["map_method_True"] = proj
        if proj != "latent":
            st.session_state["map_method_False"] = proj
    if params.get("dim") in ("2", "3"):
        st.session_state["map_k"] = int(params["dim"])
    if params.get("map") in ("webgl", "plotly"):          # which map draws a 2-D map
        st.session_state["map_webgl"] = params["map"] == "webgl"
    if params.get("split") in SPLITS:
        st.session_state["map_split"] = params["split"]
    shapes = _float(params.get(SHAPES_PARAM), 1, 10_000_000)
    if shapes is not None and int(shapes) in loaders.SHAPES_SIZES:
        st.session_state[loaders.SHAPES_LINKED] = int(shapes)     # the sidebar picks it when it offers it
    elif params.get(SHAPES_PARAM) is not None:
        notes.append(f"The link's {params[SHAPES_PARAM]!r} shapes to draw are not a size offered here; drawing as recorded.")
    for _, setting in _SETTINGS:                          # each projection's own settings (perp, nn, ...)
        value = _float(params.get(setting.url), -1e9, 1e9)
        if value is not None and value in setting.choices:
            st.session_state[setting.state_key] = setting.choices[setting.choices.index(value)]
    for key, (name, parse) in PAGE_PARAMS.items():
        value = parse(params.get(name)) if params.get(name) is not None else None
        if value is not None:
            st.session_state[key] = value
            st.session_state.setdefault(_MAP, {})[key] = value
    z = parse_z(params.get("z"))
    if params.get("z") and z is None:
        notes.append("The link's Decode point is not a list of numbers; it was ignored.")
    st.session_state[_PENDING] = dict(z=z, n=_float(params.get("n"), 1, 10_000_000), split=params.get("split", "test"),
                                      model=model, point=params.get(point_link.PARAM))
    st.session_state[_NOTES] = notes


def _remember_map() -> None:
    """Copy the map's widget values (present while the Latent map was the last page drawn) to our own key."""
    kept = st.session_state.setdefault(_MAP, {})
    for k in list(st.session_state.keys()):
        if k in MAP_KEYS or k in PAGE_PARAMS or str(k).startswith("map_n_"):
            kept[k] = st.session_state[k]
    for k in PAGE_PARAMS:             # a page's widget dropped by a page switch comes back with its value
        if k in kept and k not in st.session_state:
            st.session_state[k] = kept[k]


def keep_page_setting(key: str, value) -> None:
    """Keep the value of the page widget `key` (one of PAGE_PARAMS) for the link and for its return after a page
    switch: for a widget drawn in a fragment, whose reruns never reach restore_before_sidebar."""
    st.session_state.setdefault(_MAP, {})[key] = value


def page_setting(key: str):
    """The value of the page widget `key` (one of PAGE_PARAMS): its widget's, else the kept one (a link's, or the
    last drawn before a page switch dropped the widget), else None."""
    return st.session_state[key] if key in st.session_state else st.session_state.get(_MAP, {}).get(key)


def restore_after_sidebar(ctx) -> None:
    """Apply the parts of a link that need the model and dataset: the Decode point and the map's points."""
    pending = st.session_state.pop(_PENDING, None)
    notes = st.session_state.get(_NOTES) or []
    if pending is not None and ctx.lm is not None:
        z = pending["z"]
        if z is not None:
            if z.shape == (ctx.lm.latent_dim,):
                state.set_decode_point(ctx.lm.id, z)
                set_controls(ctx.lm.id, z)
            else:
                notes.append(f"The link's Decode point has {len(z)} dimensions but this model has "
                             f"{ctx.lm.latent_dim}; it was ignored.")
        if pending.get("point") is not None:         # one data point: the Decode point and the map selection
            note = point_link.apply_point(ctx, pending["point"])
            if note:
                notes.append(note)
            # applied once: a reload (or a later view of this browser) must not take the Decode point back to it
            del st.query_params[point_link.PARAM]
            st.session_state[_APPLIED] = tuple(sorted(_params().items()))
        n, split = pending["n"], pending["split"] if pending["split"] in SPLITS else "test"
        if n is not None and ctx.dataset is not None and len(getattr(ctx.dataset, split, ())):
            n_total = len(getattr(ctx.dataset, split))
            webgl = _webgl_map(st.session_state)
            if int(n) in wm.point_sizes(n_total, webgl):
                st.session_state[wm.point_key(split, n_total, webgl)] = int(n)
            else:
                notes.append(f"The link's {int(n):,} points are not a choice of the {split} split's map here; "
                             "showing the default.")
        st.session_state[_NOTES] = notes
    if notes:
        for note in notes:
            st.sidebar.warning(note)


def _webgl_map(ss, proj: str | None = None) -> bool:
    """Whether the map of these settings is the WebGL one (2-D, WebGL not switched off): its "Points" key."""
    three_d = ss.get("map_k") == 3 and (proj or ss.get("map_method_False")) not in ("latent", "custom")
    return ss.get("map_webgl") is not False and not three_d


def view_params(ctx) -> dict[str, str]:
    """The query parameters of the current view (without the browser id)."""
    p: dict[str, str] = {}
    lm = ctx.lm
    if lm is None:
        return p
    p["model"] = lm.path.name if lm.source == "bundled" and lm.path is not None else f"{lm.source}:{lm.id[:16]}"
    if lm.source == "gallery" and lm.ref:
        p["model"] = lm.ref                       # gallery:<id>: opens in any browser of this server
    ss = {**st.session_state.get(_MAP, {}), **{k: st.session_state[k] for k in list(st.session_state.keys())
                                                 if k in MAP_KEYS or k in PAGE_PARAMS or str(k).startswith("map_n_")}}
    two_d = lm.latent_dim == 2
    proj = ss.get(f"map_method_{two_d}")
    if proj in PROJECTIONS:
        p["proj"] = proj
    if ss.get("map_k") in (2, 3):
        p["dim"] = str(ss["map_k"])
    if ss.get("map_webgl") is False:
        p["map"] = "plotly"
    if ss.get("map_split") in SPLITS:
        p["split"] = ss["map_split"]
    for method, setting in _SETTINGS:
        if proj == method and ss.get(setting.state_key) in setting.choices:
            p[setting.url] = str(ss[setting.state_key])
    shapes = dict(ctx.spec.options).get("n_train") if ctx.spec is not None and ctx.spec.name == "shapes" else None
    if shapes in loaders.SHAPES_SIZES:
        p[SHAPES_PARAM] = str(shapes)
    if ctx.dataset is not None and len(getattr(ctx.dataset, p.get("split", "test"), ())):
        split = p.get("split", "test")
        n_total = len(getattr(ctx.dataset, split))
        n = ss.get(wm.point_key(split, n_total, _webgl_map(ss, proj)))
        if n:
            p["n"] = str(int(n))
    for key, (name, _) in PAGE_PARAMS.items():
        if ss.get(key) is not None:
            p[name] = f"{ss[key]:g}" if isinstance(ss[key], float) else str(ss[key])
    p["z"] = format_z(state.decode_point(lm.id, lm.latent_dim))
    return p


def share_link(ctx) -> str:
    """A URL of this page that reopens the current view (relative when the app's address is unknown)."""
    base = (st.context.url or "").split("?")[0]
    return f"{base}?{urlencode(view_params(ctx), safe=',')}"


def share_box(ctx) -> None:
    """The sidebar's "Link to this view" button; the link shows below it, remade on every full run."""
    if ctx.lm is None:
        return
    if st.button("Link to this view", icon=":material/link:", key="url_share", width="stretch",
                 help="A link with this page, model, map projection and Decode point, to open in another browser"):
        st.session_state[_SHOW] = True
    if st.session_state.get(_SHOW):
        st.code(share_link(ctx), language=None, wrap_lines=True)
        st.caption("Opens this page with the same model, map settings and Decode point"
                   + ("" if ctx.lm.source in ("bundled", "gallery") else "; this model is not bundled, so whoever opens the link "
                      "needs the same checkpoint") + ".")
