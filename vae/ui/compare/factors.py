"""Glue for the Factors page: the metrics task, the MI heat map, one traversal per factor."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from vae.analysis.factors import DCI_TREES_QUICK, METRIC_KEYS, METRIC_MEANINGS, has_factors
from vae.dims import dim_label
from vae.ui.background import background_task, show_task_progress
from vae.ui.images import grid, show
from vae.ui.tasks import Task

METRIC_LABELS = {"mig": "MIG", "dci_disentanglement": "DCI disentanglement", "dci_completeness": "DCI completeness",
                 "dci_informativeness": "DCI informativeness", "sap": "SAP", "factorvae_score": "FactorVAE score"}
MATRICES = {"mi_normalized": "I(z; factor) / H(factor)", "mi_matrix": "I(z; factor), nats",
            "dci_importance": "DCI importance (gradient-boosted trees)"}


# how many generated images and FactorVAE votes: "quick" answers in seconds; "full" is the CLI's protocol
PRECISIONS = {"quick": {"n_points": 2000, "factorvae_votes": (150, 100), "dci_trees": DCI_TREES_QUICK},
              "full": {"n_points": None, "factorvae_votes": None}}
PRECISION_LABELS = {"quick": "quick (2,000 images, 250 votes, DCI with 30 trees)",
                    "full": "full (6,000 images, 800 votes, DCI with 100 trees: the published protocol, as the CLI)"}


def _factors_key(lm, dataset_key: str, precision: str) -> str:
    return f"factors:{lm.id}:{dataset_key}:{precision}"


def factors_task(lm, dataset, dataset_key: str, precision: str = "quick", retry: bool = False) -> Task:
    """The factor metrics of model `lm` on `dataset`, computed once in the background (shared)."""
    from vae.analysis.factors import evaluate_factors

    model, opts = lm.model, PRECISIONS[precision]
    return background_task(_factors_key(lm, dataset_key, precision),
                           lambda progress: evaluate_factors(model, dataset, progress=progress, **opts),
                           retry_failed=retry)


def finished_factors(lm, dataset_key: str, precision: str = "quick") -> dict | None:
    """The factor metrics factors_task has already computed for `lm` on the data `dataset_key` at `precision`
    (seed 0), or None (never asked, still running, failed); starts nothing. The Compare page's summary of the
    same model takes them instead of computing the same numbers again."""
    from vae.ui.tasks import find_task

    task = find_task(_factors_key(lm, dataset_key, precision))
    return task.result if task is not None and task.is_done and task.error is None else None


def needs_factors(ctx) -> bool:
    """False, with a note on the page, when the sidebar's data set carries no ground-truth factors."""
    if ctx.dataset is None:
        st.info(ctx.dataset_note or "Open a dataset in the sidebar first.")
        return False
    if not has_factors(ctx.dataset):
        st.info(f"The data set **{ctx.dataset.name}** has no ground-truth factors, so there is nothing to measure "
                "disentanglement against. Choose a model trained on **shapes** (e.g. the bundled shapes-8d), whose "
                "images come with their shape, scale, rotation and position.")
        return False
    return True


def wait_for(tasks: list[Task], what: str) -> bool:
    """True when every task is done; otherwise shows their progress (and reruns the page when they end)."""
    if all(t.is_done for t in tasks):
        return True
    show_task_progress(tasks, what)
    return False


def metric_cards(result: dict, columns=None) -> None:
    cols = columns or st.columns(len(METRIC_KEYS))
    for col, key in zip(cols, METRIC_KEYS):
        v = result.get(key)
        col.metric(METRIC_LABELS[key], "n/a" if v is None else f"{v:.2f}", help=METRIC_MEANINGS[key])


def metric_meanings() -> None:
    st.markdown("\n".join(f"- **{METRIC_LABELS[k]}**: {METRIC_MEANINGS[k].split(': ', 1)[-1]}" for k in METRIC_KEYS))


def dims_by_kl(result: dict) -> np.ndarray:
    """Latent dimensions, most informative (largest KL) first."""
    return np.argsort(-np.asarray(result["dim_kl"]), kind="stable")


def matrix_figure(result: dict, which: str = "mi_normalized", height: int | None = None) -> go.Figure:
    """Heat map of a (D, F) matrix of the result: rows the latent dimensions ordered by KL, columns the factors."""
    m = np.asarray(result[which], dtype=np.float64)
    kl = np.asarray(result["dim_kl"])
    order = dims_by_kl(result)
    names = list(result["factor_names"])
    rows = [f"{dim_label(d)}  (KL {kl[d]:.2f})" for d in order]
    zmax = 1.0 if which == "mi_normalized" else max(float(m.max()), 1e-9)
    fig = go.Figure(go.Heatmap(
        z=m[order], x=names, y=rows, zmin=0, zmax=zmax, colorscale="Blues",
        text=np.round(m[order], 2), texttemplate="%{text}", hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>",
        colorbar={"title": {"text": "I/H" if which == "mi_normalized" else ("nats" if which == "mi_matrix" else "")}}))
    fig.update_layout(height=height or 90 + 34 * len(rows), margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      yaxis={"autorange": "reversed", "title": "latent dimension (by KL)"},
                      xaxis={"title": "factor", "side": "top"})
    return fig


def factor_rows(model, result: dict, z_base: np.ndarray, n_steps: int = 9, span: float = 3.0) -> None:
    """For each factor: the dimension with the most information about it, and that dimension's traversal."""
    from vae.analysis.latent import traversal_grid

    names = result["factor_names"]
    dims = [int(d) for d in result["factor_dims"]]
    mi_n = np.asarray(result["mi_normalized"])
    kl = np.asarray(result["dim_kl"])
    strips = traversal_grid(model, z_base, dims=dims, n_steps=n_steps, span=span)   # (F, S, C, H, W)
    for j, (name, d) in enumerate(zip(names, dims)):
        left, right = st.columns([1, 3], vertical_alignment="center")
        share = mi_n[d, j]
        runner = np.sort(mi_n[:, j])[-2] if mi_n.shape[0] > 1 else 0.0
        left.markdown(f"**{name}** → **{dim_label(d)}**")
        left.caption(f"I/H = {share:.2f} (next best {runner:.2f}); KL of {dim_label(d)}: {kl[d]:.2f} nats"
                     + (" — weakly carried" if share < 0.2 else ""))
        show(grid(strips[j], ncol=n_steps, width=640), container=right,
             caption=f"{dim_label(d)} from -{span:g} to +{span:g}, the other dimensions held")


def traversal_start(ctx) -> np.ndarray:
    """The point the traversals start from, as the user chooses it: z = 0 or a test image's mean (D,)."""
    from vae.analysis.latent import encode_dataset

    lm, ds = ctx.lm, ctx.dataset
    start = st.radio("Traverse from", ["z = 0 (the prior's mean)", "a test image"], key="factors_start")
    if start != "a test image":
        return np.zeros(lm.latent_dim, dtype=np.float32)
    i = int(st.number_input("Test image", 0, len(ds.test) - 1, 0, key="factors_img"))
    image = ds.test.images[i:i + 1]
    show(image[0].numpy(), 96, caption=f"test image {i}")
    return encode_dataset(lm.model, image)[0][0]
