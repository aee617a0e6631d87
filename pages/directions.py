"""Directions: attribute vectors from labels, factors or two map selections; apply them, do analogies, save them."""

import numpy as np
import streamlit as st

from vae.analysis.directions import (Direction, analogy, apply_direction, class_direction, directions_from_json,
                                     directions_to_json, group_direction)
from vae.analysis.latent import decode_numpy, encode_dataset
from vae.ui.decode import directions as store
from vae.ui import state
from vae.ui.decode.controls import set_controls
from vae.ui.images import grid, show
from vae.ui.latents import dataset_latents
from vae.ui.sidebar import current_with_model

st.title("Directions in latent space")
st.caption("A direction is a vector in latent space: the mean of class B minus the mean of class A, the direction "
           "that best predicts a factor, or the difference between two map selections. Add it to any point and "
           "watch the decoded image change; save it by name for this session (and download it).")
ctx = current_with_model()
lm, ds = ctx.lm, ctx.dataset
model, D = lm.model, lm.latent_dim
lat = dataset_latents(ctx, "test")
saved = store.saved(lm.id)
GROUPS = "_vae_direction_groups"

# ---- make one -----------------------------------------------------------------------------------------
st.subheader("Make a direction")
kinds = (["classes"] if lat is not None else []) + (["factor"] if lat is not None and lat.factors is not None else []) \
    + (["groups"] if ds is not None else [])
if not kinds:
    st.info(ctx.dataset_note or "Choose a dataset in the sidebar to make directions from its labels.")
names = {"classes": "from class A to class B", "factor": "along a factor", "groups": "between two map selections"}
kind = st.radio("How", kinds, format_func=names.get, horizontal=True, key="dir_kind") if kinds else None
vector, suggestion, source = None, "", ""
if kind == "classes":
    labels = np.unique(lat.labels)
    cn = lambda c: ds.class_names[int(c)] if 0 <= int(c) < len(ds.class_names) else str(c)  # noqa: E731
    a1, a2 = st.columns(2)
    pos = {int(c): j for j, c in enumerate(labels)}          # digits: 3 -> 8 by default, as in the examples
    ca = a1.selectbox("Class A (from)", labels, index=pos.get(3, 0), format_func=cn, key="dir_class_a")
    cb = a2.selectbox("Class B (to)", labels, index=pos.get(8, min(1, len(labels) - 1)), format_func=cn,
                      key="dir_class_b")
    if ca == cb:
        st.warning("Choose two different classes.")
    else:
        vector = class_direction(lat.mu, lat.labels, int(ca), int(cb))
        suggestion, source = f"{cn(ca)} → {cn(cb)}", f"mean of class {cn(cb)} minus mean of class {cn(ca)}"
elif kind == "factor":
    fnames = [f for f in ds.factor_names if f != "shape"] or list(ds.factor_names)
    f = st.selectbox("Factor", fnames, key="dir_factor")
    vector, source, weak = store.factor_direction_measured(lm.id, ctx.dataset_key, f, len(lat.mu), model, lat,
                                                           lat.factors[:, list(ds.factor_names).index(f)])
    suggestion = f"{f} +"
    if weak:
        st.warning(weak)
elif kind == "groups":
    groups = st.session_state.setdefault(GROUPS, {}).setdefault(lm.id, {})
    sel = state.selection(lm.id, ctx.dataset_key)
    g1, g2, g3 = st.columns([1, 1, 2])
    for col, g in ((g1, "A"), (g2, "B")):
        if col.button(f"Current map selection → group {g}", key=f"dir_group_{g}", disabled=sel is None or not sel.indices,
                      width="stretch"):
            groups[g] = (sel.split, list(sel.indices))
        col.caption(f"group {g}: " + (f"{len(groups[g][1])} {groups[g][0]} images" if g in groups else "empty"))
    g3.caption("Select points on the Latent map, come back and press a button; then select other points for "
               "the other group. The direction goes from the mean of A to the mean of B.")
    if "A" in groups and "B" in groups:
        mus = [encode_dataset(model, getattr(ds, groups[g][0]).images[groups[g][1]])[0] for g in ("A", "B")]
        vector = group_direction(np.concatenate(mus), np.arange(len(mus[0])),
                                 np.arange(len(mus[0]), len(mus[0]) + len(mus[1])))
        suggestion, source = "A → B", f"mean of {len(mus[1])} selected images minus mean of {len(mus[0])} others"
if vector is not None:
    n1, n2 = st.columns([3, 1], vertical_alignment="bottom")
    name = n1.text_input("Name", value=suggestion, key=f"dir_name_{kind}_{suggestion}")
    if n2.button("Save direction", icon=":material/bookmark_add:", key="dir_save", width="stretch"):
        if not name.strip():
            st.error("Give the direction a name.")
        else:
            store.save(lm.id, Direction(name.strip(), np.asarray(vector, np.float64), source))
            st.session_state["dir_apply_name"] = name.strip()
    st.caption(f"{source}; length {np.linalg.norm(vector):.2f} latent units.")

# ---- saved ----------------------------------------------------------------------------------------------
st.subheader("Saved directions")
if saved:
    for nm, d in list(saved.items()):
        r1, r2 = st.columns([5, 1])
        r1.markdown(f"**{nm}** · length {d.norm:.2f} · {d.source}")
        r2.button("Forget", key=f"dir_forget_{nm}", on_click=store.forget, args=(lm.id, nm))
    st.download_button("Download directions (.json)", data=directions_to_json(saved.values()),
                       file_name="directions.json", mime="application/json", on_click="ignore", key="dir_download",
                       icon=":material/download:")
up = st.file_uploader("Load directions (.json)", type=["json"], key="dir_upload")
if up is not None and st.session_state.get("_dir_loaded") != (lm.id, up.file_id):
    try:
        for d in directions_from_json(up.getvalue(), latent_dim=D):
            store.save(lm.id, d)
        st.session_state["_dir_loaded"] = (lm.id, up.file_id)
        st.rerun()
    except ValueError as e:
        st.error(f"{up.name}: {e}")
if not saved:
    st.info("No directions yet: make one above, or load a file.")
    state.stop()            # the Apply section's widgets are forgotten on both sides (issue 27)
st.caption("Two saved directions can be the axes of the Latent map (projection 'custom axes').")

# ---- apply ----------------------------------------------------------------------------------------------
st.subheader("Apply a direction")
p1, p2, p3 = st.columns([1.2, 1.2, 2])
starts = (["test"] if ds is not None else []) + ["decode"] + (["map"] if state.selection(lm.id) else [])
start = p1.radio("Start from", starts, key="dir_start", format_func={"test": "a test image", "decode": "the Decode point",
                                                                    "map": "the map selection"}.get)
if start == "test":
    first_a = np.flatnonzero(ds.test.labels.numpy() == st.session_state.get("dir_class_a", -1))
    i = int(p1.number_input("Test image index", 0, len(ds.test) - 1, int(first_a[0]) if len(first_a) else 0,
                            key="dir_index", help="by default the first test image of class A"))
    z0, what = encode_dataset(model, ds.test.images[i:i + 1])[0][0], f"test #{i}"
elif start == "map":
    sel = state.selection(lm.id)
    if sel.point is not None:
        z0, what = sel.point, "the clicked map location"
    else:
        j = sel.indices[0]
        z0, what = encode_dataset(model, getattr(ds, sel.split).images[j:j + 1])[0][0], f"{sel.split} #{j}"
else:
    z0, what = state.decode_point(lm.id, D), "the Decode point"
if st.session_state.get("dir_apply_name") not in saved:
    st.session_state["dir_apply_name"] = next(iter(saved))
dname = p2.selectbox("Direction", list(saved), key="dir_apply_name")
strength = p2.slider("Strength", -3.0, 3.0, 1.0, 0.1, key="dir_strength", help="z + strength × direction")
z = apply_direction(z0, saved[dname].vector, strength)
with p3:
    a, b = st.columns(2)
    show(decode_numpy(model, np.asarray(z0, np.float32)[None])[0], 168, caption=f"start: {what}", container=a)
    show(decode_numpy(model, z[None])[0], 168, caption=f"decoded at strength {strength:+.1f}", container=b)
    if st.button("Send to the Decode page", key="dir_to_decode", icon=":material/tune:"):
        state.set_decode_point(lm.id, z)
        set_controls(lm.id, z)
        st.switch_page("pages/decode.py")
steps = np.linspace(-2.0, 2.0, 9)
show(grid(decode_numpy(model, np.stack([apply_direction(z0, saved[dname].vector, s) for s in steps])), ncol=9,
          width=720), caption=f"{what} + s × '{dname}' for s = " + ", ".join(f"{s:g}" for s in steps))

# ---- analogies ------------------------------------------------------------------------------------------
if ds is not None:
    st.subheader("Analogies: a − b + c")
    st.caption("'a is to b as the result is to c': the difference between a and b, added to c.")
    cols = st.columns(4)
    picks = []
    for col, nm, default in zip(cols, "abc", (0, 1, 2)):
        j = int(col.number_input(f"test image {nm}", 0, len(ds.test) - 1, default, key=f"dir_an_{nm}"))
        show(ds.test.images[j], 112, caption=f"{nm}: #{j}", container=col)
        picks.append(j)
    mus = encode_dataset(model, ds.test.images[picks])[0]
    za = analogy(mus[0], mus[1], mus[2])
    show(decode_numpy(model, za[None])[0], 112, caption="a − b + c, decoded", container=cols[3])
