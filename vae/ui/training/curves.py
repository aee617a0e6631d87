"""Plotly figures of the training curves: one run's (a pure function of the job's histories) and several runs'
overlaid (of vae.ui.training.run_history records)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def smooth(values: np.ndarray) -> np.ndarray:
    """Trailing mean over a window of ~5% of the points (at least 1, at most 100): no start-up bias."""
    n = len(values)
    w = int(min(100, max(1, n // 20)))
    c = np.cumsum(np.insert(np.asarray(values, dtype=np.float64), 0, 0.0))
    lo = np.maximum(np.arange(1, n + 1) - w, 0)
    return (c[1:] - c[lo]) / (np.arange(1, n + 1) - lo)


def training_curves_figure(step_history: list[dict], epoch_history: list[dict], height: int = 330,
                           max_points: int = 1500) -> go.Figure:
    """Three panels: negative ELBO, reconstruction (-log p(x|z)) and KL, nats per image.

    Per step: raw (faint) and smoothed (trailing mean), at most `max_points` each; per epoch: train (circles)
    and test (diamonds) at the step where the epoch ended.

    SVG lines, not WebGL (Scattergl): the Train page draws this figure anew every second while a run trains, and
    in a browser drawing WebGL in software (SwiftShader) the six WebGL traces cost 1.7x the browser's CPU and,
    with browser and server on one 2-core machine, cut the epochs trained in 30 s 6x (bench/train_page_browser.py).
    """
    panels = [("loss", "−ELBO (nats)", "train_loss", "test_loss"), ("recon", "reconstruction −log p(x|z)", "recon",
                                                                     "test_recon"), ("kl", "KL(q‖p)", "kl", "test_kl")]
    fig = make_subplots(rows=1, cols=3, subplot_titles=[p[1] for p in panels], horizontal_spacing=0.06)
    steps = np.array([r["step"] for r in step_history], dtype=np.float64)
    thin = slice(None, None, max(1, len(steps) // max_points))
    for col, (key, title, ep_train, ep_test) in enumerate(panels, start=1):
        if len(steps):
            v = np.array([r.get(key, np.nan) for r in step_history], dtype=np.float64)
            smoothed = smooth(v)
            fig.add_trace(go.Scatter(x=steps[thin], y=v[thin], mode="lines", name="per step",
                                     line=dict(color="rgba(110,160,210,0.45)", width=1), showlegend=col == 1,
                                     legendgroup="step"), row=1, col=col)
            fig.add_trace(go.Scatter(x=steps[thin], y=smoothed[thin], mode="lines", name="per step, smoothed",
                                     line=dict(color="#1f77b4", width=2), showlegend=col == 1,
                                     legendgroup="smooth"), row=1, col=col)
        if epoch_history:
            ex = [r.get("step", i) for i, r in enumerate(epoch_history)]
            fig.add_trace(go.Scatter(x=ex, y=[r.get(ep_train) for r in epoch_history], mode="lines+markers",
                                     name="epoch, train", marker=dict(symbol="circle", size=8, color="#ff7f0e"),
                                     showlegend=col == 1, legendgroup="etrain"), row=1, col=col)
            fig.add_trace(go.Scatter(x=ex, y=[r.get(ep_test) for r in epoch_history], mode="lines+markers",
                                     name="epoch, test", marker=dict(symbol="diamond", size=9, color="#2ca02c"),
                                     showlegend=col == 1, legendgroup="etest"), row=1, col=col)
    fig.update_xaxes(title_text="step")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), uirevision="curves",
                      legend=dict(orientation="h", y=-0.25))
    return fig


RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def runs_overlay_figure(records, height: int = 360) -> go.Figure:
    """The loss curves of several runs (RunRecord) in one chart, x in epochs, y in nats per image: per run, its
    test -ELBO at each epoch's end (line and markers, named in the legend) and its smoothed per-step train loss
    (dotted, the same colour). A click on a legend entry hides or shows both curves of that run."""
    fig = go.Figure()
    for r in records:
        colour = RUN_COLOURS[(r.number - 1) % len(RUN_COLOURS)]
        group = r.label
        if r.train_x:
            fig.add_trace(go.Scatter(x=r.train_x, y=r.train_loss, mode="lines", name=f"{r.label} train (smoothed)",
                                     line=dict(color=colour, width=1.5, dash="dot"), legendgroup=group,
                                     showlegend=not r.test_x, hovertemplate="epoch %{x:.2f}<br>train %{y:.2f} nats"))
        if r.test_x:
            fig.add_trace(go.Scatter(x=r.test_x, y=r.test_loss, mode="lines+markers", name=f"{r.label} · {r.state}",
                                     line=dict(color=colour, width=2.5), marker=dict(size=7), legendgroup=group,
                                     hovertemplate="epoch %{x}<br>test %{y:.2f} nats"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), uirevision="runs",
                      xaxis_title="epoch", yaxis_title="−ELBO (nats per image)",
                      title=dict(text="solid: test −ELBO per epoch · dotted: train, smoothed per step",
                                 font=dict(size=12)),
                      legend=dict(title_text="run", groupclick="togglegroup"))
    return fig
