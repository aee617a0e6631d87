"""The Posterior page's glue: pick one image x, compute both sides of

    log p(x) = ELBO(x) + KL(q(z|x) || p(z|x))

with vae.analysis.likelihood (cached by model id + image bytes + settings), and draw them with Plotly.

    DataPoint                         the image x the page explains: uint8 (C, H, W) and where it came from
    image_from_bytes(data, name, shape, invert) -> uint8 (C, H, W)     an uploaded / drawn PNG or JPEG
    pick_data_point(ctx) -> DataPoint | None                           the widgets choosing x
    grid_view(...), iwae_curve(...)    st.cache_data wrappers of posterior_grid and iwae_log_likelihood
    display_extent(grid_view)          the box around the posterior's visible mass (the "zoom" view)
    posterior_figure, identity_figure, gap_by_k_figure                 Plotly figures (pure functions)

All numbers are nats per image, summed over pixels.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image, ImageOps

from vae.data.idx import DataError
from vae.data.images import open_image

from . import state

IWAE_REPEATS = 8                 # independent IWAE estimates at the largest K; the error bars are standard errors
SAMPLES_PER_K = 1024             # small K get more estimates: K x estimates >= this (cheap, tight error bars)
K_CHOICES = (50, 500, 5000, 50000)   # "largest K" options; the curve uses 1, 5, 50, ... up to it
DEFAULT_MAX_K = 500              # the default answers in well under a second; the user may ask for more
GRID_SIZE = 201                  # posterior grid is GRID_SIZE^2 decoder calls
ZOOM, PRIOR = "Zoom to the posterior", "Prior scale (|z| ≤ 4)"
PRIOR_EXTENT = 4.0
# Decoder pixel-evaluations per curve (sum over K of K * estimates * pixels) accepted by default on a CPU:
# K up to 500 on a 32x32 MLP model is 7.2e6 and takes about 0.3 s on a shared 2-core CPU (K = 5000: 4.5e7, 2-3 s).
DEFAULT_BUDGET = 1e7

Q_COLOUR = "#ff4b4b"
POST_COLOUR = "#ffffff"
PRIOR_COLOUR = "rgba(200,200,200,0.8)"


class ImageInputError(ValueError):
    """An uploaded or drawn file is not an image the model can take."""


# ---------------------------------------------------------------------------------------------- the image x

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
    if source == "draw" and st.session_state.get("_post_prev_source") != "draw":
        # the canvas comes back blank: give it a fresh key so an old drawing is not taken for x
        st.session_state["_post_canvas_n"] = st.session_state.get("_post_canvas_n", 0) + 1
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
        i = valid[0] if len(valid) == 1 else st.selectbox(
            f"{len(valid)} images selected on the map", valid[:200], key="post_map_pick",
            format_func=lambda j: f"{split} #{j} (label {_label(ds, split, j)})")
        return DataPoint(images[i].numpy(), f"{split} image #{i} (label {_label(ds, split, i)}), from the map")
    if source == "index":
        n = len(ds.test)
        if st.session_state.get("post_index", 0) >= n:
            st.session_state["post_index"] = 0
        i = int(st.number_input(f"Test image (0 to {n - 1})", min_value=0, max_value=n - 1, step=1,
                                key="post_index"))
        return DataPoint(ds.test.images[i].numpy(), f"test image #{i} (label {_label(ds, 'test', i)})")
    if source == "upload":
        up = st.file_uploader("A PNG or JPEG image (resized to the model's "
                              f"{shape[1]}x{shape[2]} {'grey' if shape[0] == 1 else 'RGB'} input)",
                              type=["png", "jpg", "jpeg"], key="post_upload")
        invert = st.radio("Invert colours", ["auto", "no", "yes"], horizontal=True, key="post_invert",
                          help="The bundled models draw light strokes on black; 'auto' inverts images "
                               "with a light border (dark ink on paper).")
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
    from .draw_canvas import draw_canvas

    brush = int(np.clip(round(2.2 * 224 / shape[2]), 8, 40))   # about two model pixels on the 224-pixel canvas
    png = draw_canvas(key=f"post_canvas_{st.session_state['_post_canvas_n']}", brush=brush)
    if png is None:
        st.info("Draw with the mouse (light ink on black, like the training images), then release.")
        return None
    try:
        img = image_from_bytes(png, "the drawing", shape, "no")
    except ImageInputError as e:
        st.error(str(e))
        return None
    if img.max() == 0:
        st.info("The canvas is empty: draw something.")
        return None
    return DataPoint(img, "your drawing")


def _label(ds, split: str, i: int) -> str:
    lab = int(getattr(ds, split).labels[i])
    names = getattr(ds, "class_names", None) or []
    return names[lab] if 0 <= lab < len(names) else str(lab)


# ---------------------------------------------------------------------------------------------- computations

@dataclass
class GridView:
    """posterior_grid's result as numpy, for drawing and caching (arrays indexed [j, i], rows along z2)."""

    z1: np.ndarray              # (G,) float64
    z2: np.ndarray              # (G,) float64
    density: np.ndarray         # (G, G) float32, p(z|x) per unit area
    log_density: np.ndarray     # (G, G) float32, log p(z|x)
    q_mu: np.ndarray            # (2,)
    q_sd: np.ndarray            # (2,) standard deviations of q(z|x)
    post_mean: np.ndarray       # (2,)
    post_cov: np.ndarray        # (2, 2)
    log_px: float               # nats, by quadrature
    recon: float                # E_q[log p(x|z)] on the grid
    kl: float                   # KL(q(z|x) || p(z)), analytic
    elbo: float                 # recon - kl
    kl_q_to_posterior: float    # KL(q(z|x) || p(z|x)) on the grid: the gap
    extent: tuple               # ((z1 lo, hi), (z2 lo, hi))


@st.cache_data(max_entries=64, show_spinner="Computing the true posterior on a grid ...")
def grid_view(model_id: str, image_key: bytes, extent, grid_size: int, _model, _x) -> GridView:
    """vae.analysis.likelihood.posterior_grid of x (1, C, H, W) for a 2-d model, cached by model id + image + settings.

    extent None zooms to the posterior's mass (the accurate numbers), r draws [-r, r]^2,
    ((z1 lo, hi), (z2 lo, hi)) that box.
    """
    from vae.analysis.posterior import posterior_grid

    g = posterior_grid(_model, _x, grid_size=grid_size, extent=extent)
    post = g.log_posterior.numpy()
    return GridView(
        z1=g.z1.numpy(), z2=g.z2.numpy(), density=np.exp(post).astype(np.float32),
        log_density=np.maximum(post, post.max() - 60).astype(np.float32),
        q_mu=g.q_mu.numpy(), q_sd=np.exp(0.5 * g.q_logvar.numpy()), post_mean=g.posterior_mean.numpy(),
        post_cov=g.posterior_cov.numpy(), log_px=g.log_px, recon=g.recon, kl=g.kl, elbo=g.elbo,
        kl_q_to_posterior=g.kl_q_to_posterior, extent=g.extent)


def display_extent(gv: GridView, nats: float = 9.0, q_sigmas: float = 2.5,
                   pad: float = 0.15) -> tuple[tuple[float, float], tuple[float, float]]:
    """A square box around what there is to see: the cells of `gv` within `nats` of the posterior's
    peak (density above e^-9 of it) and q's mean +- q_sigmas sigma, padded by `pad` of its side.

    posterior_grid's own zoom keeps 30 nats for accurate quadrature, too wide a view for the eye.
    """
    keep = gv.log_density >= gv.log_density.max() - nats                     # (G2, G1)
    cols, rows = np.nonzero(keep.any(0))[0], np.nonzero(keep.any(1))[0]
    lo = np.array([min(gv.z1[cols.min()], gv.q_mu[0] - q_sigmas * gv.q_sd[0]),
                   min(gv.z2[rows.min()], gv.q_mu[1] - q_sigmas * gv.q_sd[1])])
    hi = np.array([max(gv.z1[cols.max()], gv.q_mu[0] + q_sigmas * gv.q_sd[0]),
                   max(gv.z2[rows.max()], gv.q_mu[1] + q_sigmas * gv.q_sd[1])])
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2 * (1 + 2 * pad), 1e-3)
    r = lambda v: float(np.round(v, 4))   # noqa: E731  (stable cache keys)
    return ((r(centre[0] - half), r(centre[0] + half)), (r(centre[1] - half), r(centre[1] + half)))


@dataclass
class IWAECurve:
    """IWAE estimates of log p(x) for growing K, each the mean of independent estimates."""

    ks: list[int]
    iwae: list[float]           # nats, mean of repeats[i] independent K-sample estimates
    se: list[float]             # nats, standard error of that mean
    repeats: list[int]          # estimates per K: many for small K (cheap), IWAE_REPEATS for the largest
    elbo: float                 # the K = 1 mean: a Monte Carlo ELBO (repeats[0] samples of log p(x|z), analytic KL)
    recon: float                # its E_q[log p(x|z)] = elbo + kl
    kl: float                   # KL(q(z|x) || p(z)), analytic


def curve_ks(max_k: int) -> tuple[int, ...]:
    """1, 5, 50, 500, 5000 ... up to max_k (max_k included)."""
    ks = [k for k in (1, 5, 50, 500, 5000, 50000) if k < max_k]
    return tuple(ks + [int(max_k)])


def repeats_for(k: int, repeats: int = IWAE_REPEATS) -> int:
    """Independent estimates at K: at least `repeats`, and SAMPLES_PER_K samples in all for small K."""
    return max(int(repeats), SAMPLES_PER_K // int(k))


def default_max_k(model) -> int:
    """The largest K in K_CHOICES up to DEFAULT_MAX_K whose curve costs at most DEFAULT_BUDGET pixel-evaluations
    (x10 for conv)."""
    pixels = int(np.prod(model.config.image_shape)) * (10 if model.config.arch == "conv" else 1)
    fits = [k for k in K_CHOICES if k <= DEFAULT_MAX_K
            and sum(k * repeats_for(k) for k in curve_ks(k)) * pixels <= DEFAULT_BUDGET]
    return max(fits) if fits else min(K_CHOICES)


@st.cache_data(max_entries=64, show_spinner="Importance sampling ...")
def iwae_curve(model_id: str, image_key: bytes, ks: tuple[int, ...], repeats: int, seed: int,
               _model, _x) -> IWAECurve:
    """vae.analysis.likelihood.iwae_log_likelihood of x (1, C, H, W) uint8 for each K in ks (which must start at 1),
    on repeats_for(K) copies of x: each copy draws its own samples, so the mean over copies estimates
    E[IWAE_K] and their standard error is the error bar. Cached by model id + image + settings."""
    from vae.analysis.likelihood import iwae_log_likelihood
    from vae.model import gaussian_kl_to_standard_normal

    if not ks or ks[0] != 1:
        raise ValueError(f"ks must start at K = 1 (the ELBO), got {ks}")
    device = _model.device
    means, ses, counts = [], [], []
    for k in ks:
        n = repeats_for(k, repeats)
        g = torch.Generator(device=device).manual_seed(int(seed) * 1_000_003 + int(k))
        est = iwae_log_likelihood(_model, _x.expand(n, *_x.shape[1:]), int(k), generator=g).double().cpu()
        means.append(float(est.mean()))
        ses.append(float(est.std(correction=1) / math.sqrt(n)))
        counts.append(n)
    with torch.inference_mode():
        dtype = next(_model.parameters()).dtype
        mu, logvar = _model.encode(_x.to(device).to(dtype) / 255.0)
        kl = float(gaussian_kl_to_standard_normal(mu, logvar)[0])
    return IWAECurve(ks=list(ks), iwae=means, se=ses, repeats=counts, elbo=means[0], recon=means[0] + kl, kl=kl)


@torch.inference_mode()
def reconstruction(model, x: torch.Tensor) -> np.ndarray:
    """decode(mean of q(z|x)) for x (1, C, H, W) uint8: the reconstruction, float (C, H, W) in [0, 1]."""
    xm = x.to(model.device).to(next(model.parameters()).dtype) / 255.0
    mu, _ = model.encode(xm)
    return model.decode(mu)[0].float().cpu().numpy()


# ---------------------------------------------------------------------------------------------- figures

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
