"""The Posterior page's Plotly figures (pure functions of the computed numbers; nats per image).

    posterior_figure(grid_view)       heat map of p(z|x) with q(z|x)'s ellipses
    identity_figure(recon, kl, gap)   the waterfall ELBO + gap = log p(x)
    gap_by_k_figure(curve, elbo)      the IWAE estimate as K grows, with error bars
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from vae.ui.posterior.computations import GridView, IWAECurve

Q_COLOUR = "#ff4b4b"
POST_COLOUR = "#ffffff"
PRIOR_COLOUR = "rgba(200,200,200,0.8)"


def _ellipse(mu: np.ndarray, sd: np.ndarray, k: float, n: int = 121) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0.0, 2.0 * math.pi, n)
    return mu[0] + k * sd[0] * np.cos(t), mu[1] + k * sd[1] * np.sin(t)


def posterior_figure(gv: GridView, log_scale: bool = False, prior_circles: bool = False,
                     height: int = 460) -> go.Figure:
    """Heat map of the true posterior p(z|x) with q(z|x)'s 1σ and 2σ ellipses and both means marked."""
    z = gv.log_density if log_scale else gv.density
    fig = go.Figure(go.Heatmap(
        x=gv.z1.astype(np.float32), y=gv.z2.astype(np.float32), z=z, colorscale="Viridis", name="p(z|x)",
        colorbar=dict(title=dict(text="log p(z|x)" if log_scale else "p(z|x)", side="right"), thickness=12),
        hovertemplate="z = (%{x:.3f}, %{y:.3f})<br>" + ("log p(z|x)" if log_scale else "p(z|x)")
                      + " = %{z:.4g}<extra></extra>"))
    if prior_circles:
        for k, dash in ((1, "dot"), (2, "dot")):
            x, y = _ellipse(np.zeros(2), np.ones(2), k)
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color=PRIOR_COLOUR, width=1, dash=dash),
                                     name="prior p(z): 1σ, 2σ", legendgroup="prior", showlegend=k == 1,
                                     hoverinfo="skip"))
    for k, dash in ((1, "solid"), (2, "dash")):
        x, y = _ellipse(gv.q_mu, gv.q_sd, k)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color=Q_COLOUR, width=2, dash=dash),
                                 name=f"q(z|x) {k}σ", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[gv.q_mu[0]], y=[gv.q_mu[1]], mode="markers", name="mean of q(z|x)",
                             marker=dict(symbol="cross", size=11, color=Q_COLOUR, line=dict(width=1, color="black")),
                             hovertemplate="mean of q: (%{x:.3f}, %{y:.3f})<extra></extra>"))
    fig.add_trace(go.Scatter(x=[gv.post_mean[0]], y=[gv.post_mean[1]], mode="markers", name="mean of p(z|x)",
                             marker=dict(symbol="x", size=11, color=POST_COLOUR, line=dict(width=1, color="black")),
                             hovertemplate="mean of p(z|x): (%{x:.3f}, %{y:.3f})<extra></extra>"))
    (x0, x1), (y0, y1) = gv.extent
    fig.update_xaxes(title_text="z1", range=[x0, x1], constrain="domain")
    fig.update_yaxes(title_text="z2", range=[y0, y1], scaleanchor="x", scaleratio=1, constrain="domain")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.01, x=0, font=dict(size=11)))
    return fig


def identity_figure(recon: float, kl: float, gap: float, log_px_label: str, height: int = 380) -> go.Figure:
    """A waterfall: E_q[log p(x|z)], then −KL(q‖p(z)) down to the ELBO, then + gap up to log p(x).

    The totals are Plotly's own running sums, so the chart is the identity ELBO + gap = log p(x).
    """
    elbo = recon - kl
    log_px = elbo + gap
    # two short lines per bar, so five labels fit under half a page without overlapping
    labels = ["E_q[log p(x|z)]", "−KL(q‖p(z))", "ELBO", "gap<br>KL(q‖p(z|x))", _two_lines(log_px_label)]
    values = [recon, -kl, elbo, gap, log_px]
    fig = go.Figure(go.Waterfall(
        x=labels, measure=["absolute", "relative", "total", "relative", "total"], y=[recon, -kl, 0, gap, 0],
        text=[f"{v:+.3f}" if i in (1, 3) else f"{v:.3f}" for i, v in enumerate(values)], textposition="outside",
        connector=dict(line=dict(color="rgba(128,128,128,0.6)", dash="dot")),
        decreasing=dict(marker=dict(color="#ef553b")), increasing=dict(marker=dict(color="#00cc96")),
        totals=dict(marker=dict(color="#636efa")), hovertemplate="%{x}: %{text} nats<extra></extra>"))
    lo = min(0.0, *np.cumsum([recon, -kl, gap]))
    fig.update_traces(cliponaxis=False, textfont=dict(size=12))
    fig.update_xaxes(tickangle=0, tickfont=dict(size=12))
    fig.update_yaxes(title_text="nats per image", range=[lo * 1.2, max(0.0, recon) + abs(lo) * 0.05])
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), showlegend=False)
    return fig


def _two_lines(label: str) -> str:
    """"log p(x) ≈ IWAE K=500" -> "log p(x)<br>≈ IWAE K=500": a waterfall label in two short lines."""
    for sep in (" ≈ ", ", ", " = "):
        if sep in label:
            head, tail = label.split(sep, 1)
            return f"{head}<br>{sep.strip() + ' ' if sep.strip() not in ',' else ''}{tail}"
    return label


def gap_by_k_figure(curve: IWAECurve, elbo: float, log_px: float | None, height: int = 380) -> go.Figure:
    """IWAE estimate vs K (log axis) with ±1 standard error bars, and the ELBO (and the grid's log p(x)) as lines."""
    fig = go.Figure(go.Scatter(
        x=curve.ks, y=curve.iwae, mode="lines+markers", name="IWAE estimate, mean ± 1 s.e.",
        error_y=dict(type="data", array=curve.se, visible=True), marker=dict(size=8, color="#636efa"),
        customdata=np.stack([curve.se, curve.repeats], -1),
        hovertemplate="K = %{x}<br>IWAE %{y:.3f} ± %{customdata[0]:.3f} nats"
                      "<br>mean of %{customdata[1]} estimates<extra></extra>"))
    fig.add_hline(y=elbo, line=dict(color="#ef553b", dash="dash"), annotation_text=f"ELBO {elbo:.3f}",
                  annotation_position="bottom right")
    if log_px is not None:
        fig.add_hline(y=log_px, line=dict(color="#00cc96"), annotation_text=f"log p(x) by quadrature {log_px:.3f}",
                      annotation_position="top left")
    fig.update_xaxes(type="log", title_text="K, importance samples", tickvals=curve.ks,
                     ticktext=[f"{k:,}" for k in curve.ks])
    fig.update_yaxes(title_text="nats per image")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    return fig
