"""The Posterior page's image x: a test image, the map's selection, an upload or a drawing.

    DataPoint                         the image x the page explains: uint8 (C, H, W) and where it came from
    image_from_bytes(data, name, shape, invert) -> uint8 (C, H, W)     an uploaded / drawn PNG or JPEG
    pick_data_point(ctx) -> DataPoint | None                           the widgets choosing x
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
from PIL import Image, ImageOps

from vae.data.digit_norm import normalise_like_mnist
from vae.data.idx import DataError
from vae.data.images import open_image

from vae.ui import state


class ImageInputError(ValueError):
    """An uploaded or drawn file is not an image the model can take."""


@dataclass(frozen=True)
class DataPoint:
    """The image x whose posterior the page shows."""

    image: np.ndarray   # (C, H, W) uint8, the model's image shape
    source: str         # what the page says about it, e.g. "test image #17 (label 3)"

    @property
    def key(self) -> bytes:
        """Bytes identifying the image (its shape and pixels), for cache keys."""
        return np.asarray(self.image.shape, dtype=np.int32).tobytes() + self.image.tobytes()

    def tensor(self) -> torch.Tensor:
        """(1, C, H, W) uint8 on the CPU (vae.analysis.likelihood scales it to [0, 1] on the model's device)."""
        return torch.from_numpy(np.array(self.image, dtype=np.uint8, copy=True)).unsqueeze(0)


def image_from_bytes(data: bytes, name: str, image_shape: tuple[int, int, int], invert: str = "auto") -> np.ndarray:
    """A PNG/JPEG (any size, grey, RGB or with alpha) as the model's input: uint8 (C, H, W).

    Transparent pixels are laid on the background the opaque ones contrast with; the image is
    padded to a square with its border colour and resized (area average when shrinking).
    invert: "auto" inverts when the border is light (dark strokes on paper, where the bundled
    data sets draw light strokes on black), "yes" / "no" force it.
    Raises ImageInputError naming `name` and the problem.
    """
    c, h, w = image_shape
    if invert not in ("auto", "yes", "no"):
        raise ValueError(f"invert must be 'auto', 'yes' or 'no', got {invert!r}")
    if not data:
        raise ImageInputError(f"{name}: the file is empty")
    try:
        # the data sets' opener: formats, bomb and corrupt checks, 16-bit scaling, and shrunk right away
        # to a few times the model's side, so padding and resizing never see the file's full size
        img = open_image(io.BytesIO(data), name, shrink_to=(max(w, h), "pad"))
    except DataError as e:
        raise ImageInputError(f"{e}; upload a PNG or JPEG") from None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        a = np.asarray(rgba, dtype=np.float32)
        alpha = a[..., 3:] / 255.0
        opaque_light = (a[..., :3].mean(-1) * alpha[..., 0]).sum() > 127.5 * max(alpha.sum(), 1e-6)
        bg = 0.0 if opaque_light else 255.0
        img = Image.fromarray((a[..., :3] * alpha + bg * (1 - alpha)).round().astype(np.uint8), "RGB")
    img = img.convert("L" if c == 1 else "RGB")
    a = np.asarray(img).reshape(img.height, img.width, -1)                       # (H, W, 1 | 3)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]]).astype(np.float64)  # (pixels, 1 | 3)
    if invert == "yes" or (invert == "auto" and border.mean() > 127.5):
        img = ImageOps.invert(img)
        border = 255.0 - border
    med = np.median(border, axis=0)
    fill = int(med[0]) if c == 1 else tuple(int(v) for v in med)
    side = max(img.width, img.height)
    if img.width != img.height:
        img = ImageOps.pad(img, (side, side), color=fill)
    resample = Image.Resampling.BOX if side > w else Image.Resampling.BILINEAR
    img = img.resize((w, h), resample)
    out = np.asarray(img, dtype=np.uint8)
    out = out[None] if c == 1 else out.transpose(2, 0, 1)
    return np.ascontiguousarray(out)


def pick_data_point(ctx) -> DataPoint | None:
    """Draw the widgets that choose x (a test image by index, the map's selection, an upload or a
    drawing) and return it; None when there is none yet (an upload not chosen, or an unreadable one,
    which shows an st.error)."""
    lm, ds = ctx.lm, ctx.dataset
    shape = tuple(lm.model.config.image_shape)
    sel = state.selection(lm.id, ctx.dataset_key) if ds is not None else None
    sel_indices = [int(i) for i in (sel.indices if sel is not None else [])]
    options = (["map"] if sel_indices else []) + (["index"] if ds is not None else []) + ["upload", "draw"]
    names = {"map": "Selected on the map", "index": "Test image by index", "upload": "Upload an image",
             "draw": "Draw one"}
    key = "post_source"
    seen = (sel.split, tuple(sel_indices)) if sel_indices else None
    if seen is not None and st.session_state.get("_post_selection_seen") != seen:
        st.session_state[key] = "map"            # a new selection on the map: show it
    st.session_state["_post_selection_seen"] = seen
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
    source = st.radio("Data point x", options, format_func=names.get, key=key, horizontal=True)
    prev = st.session_state.get("_post_prev_source")      # the widgets below are drawn for one source at a time
    if source == "draw" and prev != "draw":
        # the canvas comes back blank: give it a fresh key so an old drawing is not taken for x
        st.session_state["_post_canvas_n"] = st.session_state.get("_post_canvas_n", 0) + 1
    if source == "upload" and prev != "upload":
        # the browser empties an uploader it stopped drawing; the server must not keep the file either
        st.session_state.pop("post_upload", None)
    st.session_state["_post_prev_source"] = source
    if ds is None and ctx.dataset_note:
        st.caption(f"No test set: {ctx.dataset_note}")

    if source == "map":
        split = sel.split if sel.split in ("train", "test") else "test"
        images = getattr(ds, split).images
        valid = [i for i in sel_indices if 0 <= i < len(images)]
        if not valid:
            st.warning("The map selection names no image of this data set.")
            return None
        if len(valid) == 1:
            i = valid[0]
        else:
            state.restore_widget("post_map_pick", prev == "map", lambda j: j in valid[:200])
            i = st.selectbox(f"{len(valid)} images selected on the map", valid[:200], key="post_map_pick",
                             format_func=lambda j: f"{split} #{j} (label {_label(ds, split, j)})")
            state.remember_widget("post_map_pick", i)
        return DataPoint(images[i].numpy(), f"{split} image #{i} (label {_label(ds, split, i)}), from the map")
    if source == "index":
        n = len(ds.test)
        state.restore_widget("post_index", prev == "index", lambda j: 0 <= j < n)
        if st.session_state.get("post_index", 0) >= n:
            st.session_state["post_index"] = 0
        i = int(st.number_input(f"Test image (0 to {n - 1})", min_value=0, max_value=n - 1, step=1,
                                key="post_index"))
        state.remember_widget("post_index", i)
        return DataPoint(ds.test.images[i].numpy(), f"test image #{i} (label {_label(ds, 'test', i)})")
    if source == "upload":
        up = st.file_uploader("A PNG or JPEG image (resized to the model's "
                              f"{shape[1]}x{shape[2]} {'grey' if shape[0] == 1 else 'RGB'} input)",
                              type=["png", "jpg", "jpeg"], key="post_upload")
        state.restore_widget("post_invert", prev == "upload")
        invert = st.radio("Invert colours", ["auto", "no", "yes"], horizontal=True, key="post_invert",
                          help="The bundled models draw light strokes on black; 'auto' inverts images "
                               "with a light border (dark ink on paper).")
        state.remember_widget("post_invert", invert)
        if up is None:
            st.info("Choose an image file to see its posterior.")
            return None
        try:
            img = image_from_bytes(up.getvalue(), up.name, shape, invert)
        except ImageInputError as e:
            st.error(str(e))
            return None
        return DataPoint(img, f"uploaded {up.name}")
    # draw
    from vae.ui.components.draw_canvas import draw_canvas

    brush = int(np.clip(round(2.2 * 224 / shape[2]), 8, 40))   # about two model pixels on the 224-pixel canvas
    png = draw_canvas(key=f"post_canvas_{st.session_state['_post_canvas_n']}", brush=brush)
    if png is None:
        st.info("Draw with the mouse (light ink on black, like the training images), then release.")
        return None
    try:
        img, mnist_like = image_from_drawing(png, shape, ds.name if ds is not None else None)
    except ImageInputError as e:
        st.error(str(e))
        return None
    if img.max() == 0:
        st.info("The canvas is empty: draw something.")
        return None
    if mnist_like:
        st.caption("Your drawing is scaled to fit 20x20 pixels and centred by its mass in 28x28, as MNIST's "
                   "digits were made.")
    return DataPoint(img, "your drawing, centred like MNIST" if mnist_like else "your drawing")


def image_from_drawing(png: bytes, shape: tuple[int, int, int], dataset_name: str | None) -> tuple[np.ndarray, bool]:
    """(uint8 (C, H, W) model input, whether it was made like MNIST) from the drawing canvas's PNG.

    For a square grey model of MNIST the drawing is read at 4x the model's size and made as MNIST's digits
    were (vae.data.digit_norm: ink scaled into 20x20, centred by mass); otherwise it is resized as drawn.
    Raises ImageInputError for bytes that are not an image.
    """
    mnist_like = shape[0] == 1 and shape[1] == shape[2] and dataset_name == "mnist"
    if mnist_like:
        big = image_from_bytes(png, "the drawing", (1, 4 * shape[1], 4 * shape[2]), "no")
        return normalise_like_mnist(big, shape[1]), True
    return image_from_bytes(png, "the drawing", shape, "no"), False


def _label(ds, split: str, i: int) -> str:
    lab = int(getattr(ds, split).labels[i])
    names = getattr(ds, "class_names", None) or []
    return names[lab] if 0 <= lab < len(names) else str(lab)
