"""Glue for the Compare page: candidate models, their summaries in the background, side-by-side views,
and a sweep's rate-distortion picture and metrics against the swept setting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from vae.analysis.compare import (
    SweepSummary,
    find_sweeps,
    load_sweep_summary,
    summarize_model,
)
from vae.analysis.factors import METRIC_KEYS
from vae.dims import dim_label
from vae.ui import latents, loaders
from vae.ui.background import background_task
from vae.ui.colours import label_colour
from vae.ui.compare.factors import METRIC_LABELS, PRECISIONS, finished_factors
from vae.ui.tasks import Task


def sweep_roots() -> tuple[Path, Path]:
    """Where sweeps are looked for: bundled summaries (assets/sweeps) and sweep folders (runs/)."""
    return loaders.ASSETS_DIR / "sweeps", loaders.REPO / "runs"

TERMS = {"elbo": "ELBO", "recon": "E[log p(x|z)]", "kl": "KL(q(z|x) || p(z))", "iwae": "IWAE log p(x)",
         "active_units": "active units"}


# ---------------------------------------------------------------------------------------------- models

def candidate_models(ctx) -> dict[str, Path | None]:
    """Models one may compare, by label: the sidebar's (path None when it has no folder), bundled ones, and
    the checkpoints of sweeps under runs/."""
    out: dict[str, Path | None] = {}
    if ctx.lm is not None:
        out[f"sidebar: {ctx.lm.label}"] = ctx.lm.path
    for name, path in loaders.bundled_models().items():
        out.setdefault(f"bundled: {name}", path)
    for name, folder in find_sweeps(*sweep_roots()).items():
        try:
            sweep = load_sweep_summary(folder)
        except ValueError:
            continue
        for run, ckpt in zip(sweep.runs, sweep.checkpoints):
            if ckpt is not None:
                out.setdefault(f"{name}/{run}", ckpt)
    from vae.ui.gallery.glue import compare_candidates
    for label, path in compare_candidates().items():
        out.setdefault(label, path)
    return out


def open_models(ctx, labels: list[str], candidates: dict[str, Path | None]) -> list[tuple[str, object]]:
    """[(label, LoadedModel)] for the chosen labels; a model that does not open is reported and left out."""
    out = []
    for label in labels:
        path = candidates.get(label)
        try:
            lm = ctx.lm if path is None or (ctx.lm is not None and ctx.lm.path == path) else \
                loaders.load_folder(path, ctx.device, "compare", label=label.split(": ", 1)[-1])
        except Exception as e:  # CheckpointError, OSError: shown, the others still compared
            st.error(f"Could not open {label}: {e}")
            continue
        if lm is not None:
            same = next((other for other, o in out if o.id == lm.id), None)
            if same is not None:       # identical bytes (a gallery copy of a bundled model, say): shown once
                st.caption(f"{label} is the same model as {same} (identical weights); shown once.")
                continue
            out.append((label, lm))
    return out


def same_data(ctx, models: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """The models whose images fit the sidebar's data set (the data all of them are compared on)."""
    keep = []
    for label, lm in models:
        misfit = loaders.dataset_fits(lm.model, ctx.dataset)
        if misfit:
            st.warning(f"{label} is left out: {misfit}")
        else:
            keep.append((label, lm))
    return keep


def _binarize_of(lm) -> str:
    train = (getattr(lm.model, "checkpoint_info", None) or {}).get("train") or {}
    return "static" if train.get("binarize", "none") != "none" else "none"


def summary_task(lm, dataset, dataset_key: str, iwae_samples: int) -> Task:
    """The summary of model `lm` on `dataset` (summarize_model), computed once in the background (shared); its
    factor metrics are the Factors page's "quick" ones (the same options and seed) when that page has them."""
    model, binarize = lm.model, _binarize_of(lm)
    return background_task(
        f"compare:{lm.id}:{dataset_key}:{iwae_samples}",
        lambda progress: summarize_model(model, dataset, iwae_samples=iwae_samples, binarize=binarize,
                                         factor_options=PRECISIONS["quick"],
                                         factor_metrics=finished_factors(lm, dataset_key, "quick"),
                                         progress=progress))


def summary_table(labels: list[str], summaries: list[dict | None]) -> dict[str, list]:
    """Columns for st.dataframe: a row per figure, a column per model."""
    keys = list(TERMS) + [k for k in METRIC_KEYS if any(s and s.get(k) is not None for s in summaries)]
    table: dict[str, list] = {"": [TERMS.get(k) or METRIC_LABELS[k] for k in keys]}
    for label, s in zip(labels, summaries):
        table[label] = [None if s is None or s.get(k) is None else round(float(s[k]), 3) for k in keys]
    return table


def table_csv(table: dict[str, list]) -> bytes:
    """A table of columns (summary_table, sweep_table) as CSV bytes: a header of the column names (summary_table's
    unnamed first column is 'figure'), then a row per entry; a missing value is an empty cell. UTF-8 (the figure names hold '−' and 'β')."""
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    names = list(table)
    w.writerow(["figure" if n == "" else n for n in names])     # summary_table's unnamed column of row names
    for row in zip(*(table[n] for n in names)):
        w.writerow(["" if v is None else v for v in row])
    return out.getvalue().encode("utf-8")


def _csv_button(table: dict[str, list], file_name: str, key: str) -> None:
    st.download_button("Table as CSV", data=table_csv(table), file_name=file_name, mime="text/csv", key=key,
                       on_click="ignore", icon=":material/table:")


def reconstructions(models: list[tuple[str, object]], dataset, n: int = 10, seed: int = 0):
    """The same n test images and each model's reconstruction of them (decoded means): uint8 / float arrays."""
    from vae.analysis.latent import decode_numpy, encode_dataset

    idx = np.sort(np.random.default_rng(seed).choice(len(dataset.test), size=min(n, len(dataset.test)), replace=False))
    images = dataset.test.images[idx].numpy()
    rows = []
    for _, lm in models:
        mu, _ = encode_dataset(lm.model, images)
        rows.append(decode_numpy(lm.model, mu))
    return idx, images, rows


def traversal_strips(lm, kl_per_dim, n_dims: int = 4, n_steps: int = 7, span: float = 3.0):
    """Traversals from z = 0 of the n_dims dimensions with the largest KL: (dims, images (R, S, C, H, W))."""
    from vae.analysis.latent import traversal_grid

    order = np.argsort(-np.asarray(kl_per_dim), kind="stable")[:n_dims]
    z = np.zeros(lm.latent_dim, dtype=np.float32)
    return [int(d) for d in order], traversal_grid(lm.model, z, dims=order.tolist(), n_steps=n_steps, span=span)


def map_figure(lm, ctx, colour: str, n: int = 1000) -> go.Figure:
    """The test split's latent means of one model: the latent space itself (2-d) or its first two principal axes."""
    lat = latents.encoded_latents(lm.id, ctx.dataset_key, "test", n, lm.model, ctx.dataset)
    if lm.latent_dim == 2:
        xy, axes = lat.mu, (dim_label(0), dim_label(1))
    else:
        xy, axes = latents.pca_projection(lm.id, ctx.dataset_key, "test", n, 2, lat.mu).embedding, ("PC 1", "PC 2")
    ds = ctx.dataset
    if colour == "label" or lat.factors is None:
        values = np.asarray(ds.class_names, dtype=object)[lat.labels]
        fig = go.Figure([go.Scattergl(x=xy[values == c, 0], y=xy[values == c, 1], mode="markers", name=str(c),
                                      marker={"size": 4, "color": label_colour(k)})   # as on every other page
                         for k, c in enumerate(ds.class_names)])
    else:
        j = list(ds.factor_names).index(colour)
        fig = go.Figure(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", name=colour,
                                     marker={"size": 4, "color": lat.factors[:, j], "colorscale": "Viridis",
                                             "colorbar": {"title": {"text": colour}, "thickness": 10}}))
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=colour == "label",
                      xaxis={"title": axes[0]}, yaxis={"title": axes[1]}, legend={"font": {"size": 9}})
    return fig


# ---------------------------------------------------------------------------------------------- sweeps

def sweeps() -> dict[str, Path]:
    return find_sweeps(*sweep_roots())


def sweep_summaries(sweep: SweepSummary, ctx, iwae_samples: int = 50) -> tuple[SweepSummary, list[Task]]:
    """Fill in the summaries a sweep folder lacks from its checkpoints, in the background; returns the sweep
    with what is ready and the tasks still running (or failed)."""
    from vae.ui.loaders import DatasetSpec, load_dataset_cached, spec_from_checkpoint

    pending = []
    for i, (summary, ckpt) in enumerate(zip(sweep.summaries, sweep.checkpoints)):
        if summary is not None or ckpt is None:
            continue
        lm = loaders.load_folder(ckpt, ctx.device, "compare")
        spec: DatasetSpec | None = spec_from_checkpoint(lm.model)
        if spec is None:
            continue
        task = summary_task(lm, load_dataset_cached(spec), spec.key, iwae_samples)
        if task.is_done and task.error is None:
            sweep.summaries[i] = task.result
        else:
            pending.append(task)
    return sweep, pending


def _value_text(v) -> str:
    """A swept value as text: 4 for a number (beta 4.0), tcvae for an objective."""
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def _x_axis(sweep: SweepSummary) -> dict:
    if not all(isinstance(v, (int, float)) for v in sweep.values):     # objectives: one category each
        return {"title": sweep.label, "type": "category", "categoryorder": "array",
                "categoryarray": [str(v) for v in sweep.values]}
    positive = all(float(v) > 0 for v in sweep.values)
    return {"title": sweep.label, "type": "log" if positive and max(sweep.values) / min(sweep.values) >= 8 else "linear",
            "tickvals": list(sweep.values), "ticktext": [f"{v:g}" for v in sweep.values]}


def _ordered(sweep: SweepSummary) -> bool:
    """Numbers (beta, latent size) have an order a line may join; objectives are names, each a category."""
    return all(isinstance(v, (int, float)) for v in sweep.values)


def _mode(sweep: SweepSummary) -> str:
    return "lines+markers" if _ordered(sweep) else "markers"


def rate_distortion_caption(sweep: SweepSummary) -> str:
    what = {"beta": "a larger beta buys a lower rate with a worse reconstruction",
            "latent_dim": "more latent dimensions allow more rate and a better reconstruction",
            "objective": "each objective spends its KL differently (beta-VAE on the whole KL, beta-TCVAE on the total "
                         "correlation, FactorVAE on a discriminator's estimate of it), so the points are not a curve"}
    return ("Each model trades rate (the information its code keeps about the image) for distortion"
            + (f"; {what[sweep.setting]}." if sweep.setting in what else "."))


def rate_distortion_figure(sweep: SweepSummary) -> go.Figure:
    """KL (rate) against -E[log p(x|z)] (distortion), nats per image, one point per model."""
    rows = sweep.rows()
    rate = [r["kl"] for r in rows]
    distortion = [-r["recon"] for r in rows]
    labels = [f"{sweep.setting} = {_value_text(r[sweep.setting])}" for r in rows]
    fig = go.Figure(go.Scatter(x=rate, y=distortion, mode=_mode(sweep) + "+text", text=labels,
                               textposition="top center", marker={"size": 9}, cliponaxis=False,
                               hovertemplate="%{text}<br>rate %{x:.2f} nats<br>distortion %{y:.2f} nats<extra></extra>"))
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      xaxis={"title": "rate: KL(q(z|x) || p(z)), nats per image"},
                      yaxis={"title": "distortion: -E[log p(x|z)], nats per image"},
                      title={"text": "Rate against distortion", "font": {"size": 14}})
    return fig


def metrics_figure(sweep: SweepSummary) -> go.Figure:
    """Each factor metric against the swept setting."""
    rows = sweep.rows()
    x = [r[sweep.setting] for r in rows]
    fig = go.Figure([go.Scatter(x=x, y=[r.get(k) for r in rows], mode=_mode(sweep), name=METRIC_LABELS[k])
                     for k in METRIC_KEYS if any(r.get(k) is not None for r in rows)])
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 30, "b": 10}, xaxis=_x_axis(sweep),
                      yaxis={"title": "score", "range": [0, 1.02]},
                      title={"text": f"Factor metrics against {sweep.label}", "font": {"size": 14}})
    return fig


def elbo_figure(sweep: SweepSummary) -> go.Figure:
    """ELBO, IWAE and the KL against the swept setting (nats per image)."""
    rows = sweep.rows()
    x = [r[sweep.setting] for r in rows]
    traces = [go.Scatter(x=x, y=[r.get(k) for r in rows], mode=_mode(sweep), name=TERMS[k])
              for k in ("elbo", "iwae") if any(r.get(k) is not None for r in rows)]
    traces.append(go.Scatter(x=x, y=[r.get("active_units") for r in rows], mode=_mode(sweep),
                             name="active units", yaxis="y2"))
    fig = go.Figure(traces)
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 30, "b": 10}, xaxis=_x_axis(sweep),
                      yaxis={"title": "nats per image"},
                      yaxis2={"title": "active units", "overlaying": "y", "side": "right", "rangemode": "tozero",
                              "dtick": 1},
                      title={"text": f"Bounds on log p(x) against {sweep.label}", "font": {"size": 14}},
                      legend={"orientation": "h", "y": -0.2})
    return fig


def sweep_table(sweep: SweepSummary) -> dict[str, list]:
    rows = sweep.rows()
    keys = [sweep.setting, "elbo", "recon", "kl", "iwae", "active_units", *METRIC_KEYS]
    names = {sweep.setting: sweep.label, **TERMS, **METRIC_LABELS}
    return {names[k]: [None if r.get(k) is None else (round(r[k], 3) if isinstance(r[k], float) else r[k])
                       for r in rows] for k in keys}


# ---------------------------------------------------------------------------------------------- page sections

def show_sweep(sweep: SweepSummary, pending: list[Task]) -> None:
    from vae.ui.compare.factors import wait_for

    failed = [t for t in pending if t.error]
    for t in failed:
        st.error(f"Scoring a model of the sweep failed: {t.error}")
    running = [t for t in pending if not t.is_done]
    if running:
        wait_for(running, "Scoring the sweep's models")
    rows = sweep.rows()
    missing = [r for r, s in zip(sweep.runs, sweep.summaries) if s is None]
    plan = sweep.plan
    train, model = plan.get("train") or {}, plan.get("model") or {}
    st.caption(f"{len(sweep.values)} models differing only in {sweep.label} ({', '.join(_value_text(v) for v in sweep.values)}): "
               f"{model.get('arch', '?')} {model.get('hidden', '')}, latent {model.get('latent_dim', '?')}, "
               f"{train.get('epochs', '?')} epochs on {train.get('dataset', '?')}, seed {train.get('seed', '?')}. "
               f"Read from {sweep.folder.name}"
               + (f"; not scored yet: {', '.join(missing)}" if missing else "") + ".")
    if not rows:
        st.info("No model of this sweep has a summary yet.")
        return
    table = sweep_table(sweep)
    st.dataframe(table, hide_index=True, height=36 * (len(rows) + 1) + 3)
    _csv_button(table, f"sweep-{sweep.folder.name}.csv", f"cmp_sweep_csv_{sweep.folder}")
    left, right = st.columns(2)
    left.plotly_chart(rate_distortion_figure(sweep), key=f"cmp_rd_{sweep.folder}")
    left.caption(rate_distortion_caption(sweep))
    if any(r.get("mig") is not None for r in rows):
        right.plotly_chart(metrics_figure(sweep), key=f"cmp_metrics_{sweep.folder}")
    right.plotly_chart(elbo_figure(sweep), key=f"cmp_elbo_{sweep.folder}")


def show_models(ctx) -> None:
    from vae.ui.compare.factors import matrix_figure, wait_for
    from vae.ui.images import grid, show

    candidates = candidate_models(ctx)
    labels = list(candidates)
    own = labels[0] if ctx.lm is not None else None
    fits = [lab for lab in labels[1:] if candidates[lab] != (ctx.lm.path if ctx.lm else None)]
    default = [own] if own else []
    same_shape = [lab for lab in fits if _image_shape(candidates[lab]) == tuple(ctx.lm.model.config.image_shape)]
    default += same_shape[:1]
    c1, c2 = st.columns([4, 1])
    from vae.ui.gallery.glue import take_compare_requests
    default += [lab for lab in take_compare_requests(f"cmp_models_{ctx.lm.id if ctx.lm else None}", labels)
                if lab not in default]
    chosen = c1.multiselect("Models", labels, default=default, key=f"cmp_models_{ctx.lm.id if ctx.lm else None}",
                            help="the sidebar's model, the bundled ones and the checkpoints of sweeps under runs/")
    k = c2.select_slider("IWAE samples K", [10, 50, 100, 500], value=50, key="cmp_k")
    models = same_data(ctx, open_models(ctx, chosen, candidates))
    if len(models) < 2:
        st.info(f"Choose two or more models that take {ctx.dataset.name}'s images "
                f"({'x'.join(map(str, ctx.dataset.image_shape))}); the sidebar chooses the data set and its model "
                "is the first candidate.")
        return
    st.caption(f"On {ctx.dataset.name}'s test split ({len(ctx.dataset.test):,} images); nats per image, log-densities "
               "(ELBO = E[log p(x|z)] - KL).")
    tasks = [summary_task(lm, ctx.dataset, ctx.dataset_key, k) for _, lm in models]
    for (label, _), t in zip(models, tasks):
        if t.error:
            st.error(f"Scoring {label} failed: {t.error}")
    running = [t for t in tasks if not t.is_done]
    if running:
        wait_for(running, "Scoring")
    names = [label for label, _ in models]
    summaries = [t.result if t.is_done and not t.error else None for t in tasks]
    # a column per model scored (one still scoring has its progress bar above, one that failed its error), not a
    # column of "None" cells
    scored = [(label, s) for label, s in zip(names, summaries) if s is not None]
    if scored:
        table = summary_table([label for label, _ in scored], [s for _, s in scored])
        st.dataframe(table, hide_index=True, height=36 * (len(table[""]) + 1) + 3)
        _csv_button(table, f"compare-{ctx.dataset.name}-K{k}.csv", "cmp_models_csv")

    st.subheader("Reconstructions of the same test images")
    idx, images, rows = reconstructions(models, ctx.dataset)
    show(grid(images, ncol=len(idx), width=640), caption=f"test images {', '.join(map(str, idx))}")
    for (label, _), rec in zip(models, rows):
        show(grid(rec, ncol=len(idx), width=640), caption=f"{label}: decoded from the latent means")

    st.subheader("Traversals and maps")
    colours = ["label"] + [f for f in (ctx.dataset.factor_names or [])]
    colour = st.selectbox("Colour the maps by", colours, key=f"cmp_colour_{ctx.dataset.name}")
    cols = st.columns(len(models))
    for col, (label, lm), s in zip(cols, models, summaries):
        with col:
            st.markdown(f"**{label}**")
            kl = (s or {}).get("kl_per_dim")
            if kl is None:
                lat = latents.encoded_latents(lm.id, ctx.dataset_key, "test", 1000, lm.model, ctx.dataset)
                kl = latents.kl_per_dim(lm.id, ctx.dataset_key, 1000, lat)
            dims, strips = traversal_strips(lm, kl)
            show(grid(strips, width=330), caption="rows: " + ", ".join(f"{dim_label(d)} (KL {kl[d]:.2f})" for d in dims))
            st.plotly_chart(map_figure(lm, ctx, colour), key=f"cmp_map_{lm.id}_{colour}")
            if s is not None and s.get("mi_normalized") is not None:
                st.plotly_chart(matrix_figure(s, "mi_normalized", height=330), key=f"cmp_mi_{lm.id}")


def _image_shape(path: Path | None):
    import json

    if path is None:
        return None
    try:
        m = json.loads((Path(path) / "config.json").read_text())["model"]
        return (m.get("channels", 1), m["image_size"], m["image_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
