"""The Posterior page's comparison of a 2-d model with its twin trained on the other objective.

Bundled twins are named NAME (ELBO) and NAME-iwae (IWAE, same data and architecture), e.g.
`assets/mnist-2d-small` and `assets/mnist-2d-small-iwae`. For the image the page explains, both models' true
posterior p(z|x) is drawn on the same axes with their q(z|x), beside a small table: how broad q is
against p(z|x), the ELBO gap KL(q || p(z|x)), the ELBO and log p(x). What IWAE training changes:
q broader than the posterior, a larger gap, a higher log p(x).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from vae.ui import loaders
from vae.ui import posterior as post

IWAE_SUFFIX = "-iwae"


def twin_name(name: str) -> str:
    """The bundled folder name of a model's twin: NAME <-> NAME-iwae."""
    return name[: -len(IWAE_SUFFIX)] if name.endswith(IWAE_SUFFIX) else name + IWAE_SUFFIX


def find_twin(lm) -> Path | None:
    """The twin checkpoint folder of a bundled 2-d model, when one is bundled; else None."""
    if lm.source != "bundled" or lm.path is None or lm.latent_dim != 2:
        return None
    return loaders.bundled_models().get(twin_name(Path(lm.path).name))


def objective_label(model) -> str:
    """'ELBO' or 'IWAE k=K', from the training recipe a checkpoint records."""
    train = (getattr(model, "checkpoint_info", None) or {}).get("train") or {}
    return f"IWAE k={train.get('k', 1)}" if train.get("objective") == "iwae" else "ELBO"


def _union(a, b):
    return tuple((min(p[0], q[0]), max(p[1], q[1])) for p, q in zip(a, b))


def area_ratio(gv: post.GridView) -> float:
    """sqrt(det cov q) / sqrt(det cov p(z|x)) of one image: > 1 when q is broader than the posterior."""
    det = float(np.linalg.det(gv.post_cov))
    return float(np.prod(gv.q_sd)) / np.sqrt(det) if det > 0 else float("inf")


def controls(lm) -> tuple[Path | None, bool]:
    """The twin's toggles: (the twin's folder or None, same axes for both); the folder is None too while
    the comparison is off. Drawn on every run of the page, even one that stops before the comparison, so
    the browser and the server never disagree on their values (issue 27)."""
    twin_path = find_twin(lm)
    if twin_path is None:
        return None, True
    mine = objective_label(lm.model)
    other = "ELBO" if mine.startswith("IWAE") else "IWAE"
    if not st.toggle(f"Compare with the {other} twin ({twin_path.name})", key="post_twin",
                     help="The same architecture and data, trained on the other objective"):
        return None, True
    same_axes = st.toggle("Same axes for both", value=True, key="post_twin_same",
                          help="Off: each panel zooms to its own posterior")
    return twin_path, same_axes


def render(lm, point, x) -> None:
    """The twin's toggles and, when on, the side-by-side comparison for image `point` (x: (1, C, H, W) uint8)."""
    twin_path, same_axes = controls(lm)
    if twin_path is None:
        return
    try:
        twin = loaders.load_folder(twin_path, str(lm.device))
    except Exception as e:  # a broken bundled folder: say so, keep the page
        st.error(f"Could not load the twin {twin_path}: {e}")
        return
    models = sorted([lm, twin], key=lambda m: objective_label(m.model) != "ELBO")   # ELBO first
    accurate = [post.grid_view(m.id, point.key, None, post.GRID_SIZE, m.model, x) for m in models]
    extents = [post.display_extent(gv) for gv in accurate]
    if same_axes:
        extents = [_union(*extents)] * 2
    rows = []
    for col, m, gv, extent in zip(st.columns(2), models, accurate, extents):
        label = f"{m.label}: {objective_label(m.model)}"
        with col:
            st.markdown(f"**{label}**")
            shown = post.grid_view(m.id, point.key, extent, post.GRID_SIZE, m.model, x)
            st.plotly_chart(post.posterior_figure(shown, height=380), key=f"post_twin_{m.id}", width="stretch")
        rows.append({"model": label, "sd of q(z|x)": float(gv.q_sd.mean()),
                     "sd of p(z|x)": float(np.sqrt(np.diag(gv.post_cov)).mean()),
                     "area q / p(z|x)": area_ratio(gv), "gap KL(q‖p(z|x))": gv.kl_q_to_posterior,
                     "ELBO": gv.elbo, "log p(x)": gv.log_px})
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={k: st.column_config.NumberColumn(format="%.3f") for k in rows[0] if k != "model"})
    st.caption("sd: mean over z1, z2 of the standard deviations; area: of the 1σ "
               "ellipses (> 1: q is broader than the true posterior). Trained on the k-sample bound, the "
               "encoder may spread over the posterior since the importance weights correct it: a larger "
               "gap, often a higher log p(x). Nats per image.")
