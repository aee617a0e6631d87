"""Open one data point on another page through the URL: ``?point=test:123`` (split and dataset index).

    open_links(container, ctx, "test", 123)       # "Decode" and "Posterior" links carrying the point
    parse_point("test:123") -> ("test", 123)      # None for anything else
    apply_point(ctx, "test:123") -> note or None  # url_state.restore_after_sidebar: the point becomes the
                                                  # Decode point (its q mean) and the map selection (Posterior)

The Decode page starts from the point's encoded mean; the Posterior page shows it as "Selected on the map".
A link also names the model when it is bundled or in the gallery, so it opens the same point in any browser.
"""

from __future__ import annotations

import numpy as np

PARAM = "point"
SPLITS = ("test", "train")
PAGES = {"Decode": "pages/decode.py", "Posterior": "pages/posterior.py"}


def parse_point(text: str | None) -> tuple[str, int] | None:
    """'test:123' -> ('test', 123); None unless a known split, a colon and an index of 0 or more."""
    if not text:
        return None
    split, sep, index = str(text).partition(":")
    if not sep or split not in SPLITS or not index.isdigit() or len(index) > 9:
        return None
    return split, int(index)


def format_point(split: str, index: int) -> str:
    return f"{split}:{int(index)}"


def link_params(ctx, split: str, index: int) -> dict[str, str]:
    """The query parameters of a link that opens split image `index` (with the model, when a link can carry it)."""
    params = {PARAM: format_point(split, index)}
    lm = ctx.lm
    if lm is not None and lm.source == "bundled" and lm.path is not None:
        params["model"] = lm.path.name
    elif lm is not None and lm.source == "gallery" and lm.ref:
        params["model"] = lm.ref
    return params


def apply_point(ctx, text: str | None) -> str | None:
    """Make the link's point the Decode point and the map selection; a note when it does not fit, else None."""
    if text is None:
        return None
    from vae.analysis.latent import encode_dataset
    from vae.ui import state
    from vae.ui.decode.controls import set_controls

    got = parse_point(text)
    if got is None:
        return f"The link's point {str(text)[:40]!r} is not split:index (e.g. test:12); it was ignored."
    split, i = got
    ds = ctx.dataset
    images = getattr(ds, split, None) if ds is not None else None
    if images is None or not 0 <= i < len(images):
        return f"The link's point {split} #{i} is not in this dataset; it was ignored."
    mu, _ = encode_dataset(ctx.lm.model, images.images[i:i + 1])
    state.set_decode_point(ctx.lm.id, np.asarray(mu[0], np.float32))
    set_controls(ctx.lm.id, mu[0])
    state.set_selection(state.MapSelection(ctx.lm.id, ctx.dataset_key, split, [i]))
    return None


def open_links(container, ctx, split: str, index: int) -> None:
    """'Decode' and 'Posterior' page links for split image `index`, side by side in `container`."""
    params = link_params(ctx, split, index)
    with container.container(horizontal=True, gap="small"):
        import streamlit as st

        for name, page in PAGES.items():
            st.page_link(page, label=f"{name}", icon=":material/open_in_new:", query_params=params,
                         help=f"open {split} image #{index} on the {name} page")
