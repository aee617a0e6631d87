"""The Train page's live latent map: frames of `vae.analysis.live_map`, drawn by the WebGL component
(vae.ui.training.live_map_webgl: the newest frame while training, an in-browser replay once stopped) or,
where the browser has no WebGL, as the Plotly scatter here.

Plotly: while the job runs, the newest frame is drawn (the page's fragment redraws every second); once it has
stopped or finished, every frame (at most MAX_REPLAY_FRAMES, evenly spaced, first and last kept) goes
into one figure with a Play button and a slider, replayed in the browser with no server round trip.
The axes hold every point of every frame, so what moves in a replay is the points, not the axes.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from vae.analysis.live_map import LatentFrame, LiveMapData, fixed_axes
from vae.ui.colours import label_colour
from vae.ui.map import webgl_map as wm
from vae.ui.training.live_map_webgl import (MAX_REPLAY_FRAMES, epoch_text, frame_title, live_webgl_panel,
                                           replay_frames)

__all__ = ["live_map_panel", "live_map_figure", "replay_frames", "MAX_REPLAY_FRAMES"]

def _groups(data: LiveMapData, color_by: str) -> list[tuple[str, np.ndarray, dict]]:
    """(trace name, point indices, marker) per trace: one per class, or one coloured by a factor."""
    if color_by in data.factor_names and data.factors is not None:
        values = data.factors[:, data.factor_names.index(color_by)]
        marker = dict(size=4, color=values, colorscale="Viridis", showscale=True,
                      colorbar=dict(title=dict(text=color_by), thickness=12))
        return [(color_by, np.arange(len(values)), marker)]
    groups = []
    for c in np.unique(data.labels):
        name = data.class_names[c] if c < len(data.class_names) else str(c)
        groups.append((name, np.flatnonzero(data.labels == c), dict(size=4, color=label_colour(c))))
    return groups


def live_map_figure(data: LiveMapData, color_by: str = "label", replay: bool = False) -> go.Figure:
    """The newest frame; with replay=True also every replay frame, a Play button and an epoch slider."""
    frames = data.frames
    shown = replay_frames(frames) if replay else [len(frames) - 1]
    groups = _groups(data, color_by)
    last = frames[shown[-1]]

    def traces(frame: LatentFrame) -> list[go.Scatter]:
        return [go.Scatter(x=frame.xy[idx, 0], y=frame.xy[idx, 1], mode="markers", name=name, marker=marker,
                           customdata=data.index[idx], hovertemplate=f"{name}<br>test #%{{customdata}}<extra></extra>")
                for name, idx, marker in groups]

    fig = go.Figure(data=traces(last))
    (x0, x1), (y0, y1) = fixed_axes([frames[i] for i in shown] if replay else frames)
    axis = "z" if data.projection == "latent" else "PC"
    ex = last.explained
    fig.update_layout(
        height=460, margin=dict(l=10, r=10, t=40, b=10), legend=dict(itemsizing="constant"),
        title=dict(text=frame_title(data, last), font=dict(size=14)),
        xaxis=dict(range=[x0, x1], autorange=False, zeroline=False,
                   title=f"{axis}1" + (f" ({ex[0]:.0%} of the variance)" if ex else "")),
        yaxis=dict(range=[y0, y1], autorange=False, zeroline=False,
                   title=f"{axis}2" + (f" ({ex[1]:.0%})" if ex else "")))
    if replay and len(shown) > 1:
        fig.frames = [go.Frame(data=traces(frames[i]), name=str(i),
                               layout=dict(title=dict(text=frame_title(data, frames[i]))))
                      for i in shown]
        play = dict(frame=dict(duration=250, redraw=False), transition=dict(duration=0), fromcurrent=False,
                    mode="immediate")
        fig.update_layout(
            updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.17, xanchor="left", yanchor="top",
                              showactive=False, pad=dict(r=8, t=0),
                              buttons=[dict(label="\u25B6 Replay", method="animate", args=[None, play]),
                                       dict(label="Pause", method="animate",
                                            args=[[None], dict(frame=dict(duration=0, redraw=False),
                                                               mode="immediate")])])],
            # tick labels hidden (dozens of epochs would overlap); the title names the frame's epoch
            sliders=[dict(active=len(shown) - 1, x=0.22, len=0.78, y=-0.13, yanchor="top", pad=dict(t=0),
                          currentvalue=dict(visible=False), ticklen=3,
                          font=dict(size=1, color="rgba(0,0,0,0)"),
                          steps=[dict(label=epoch_text(frames[i]), method="animate",
                                      args=[[str(i)], dict(frame=dict(duration=0, redraw=False), mode="immediate",
                                                           transition=dict(duration=0))])
                                 for i in shown])],
            height=560, margin=dict(l=10, r=10, t=40, b=120))
    return fig


def live_map_panel(snapshot, running: bool, dataset=None) -> None:
    """The live map section of the Train page for a job snapshot (nothing before the first frame).

    dataset: the one the run trains on (the job's, not the sidebar's): a hovered point shows its image from it."""
    data: LiveMapData | None = getattr(snapshot, "live_map", None)
    if data is None or not data.frames:
        return
    # one container, its elements in the same places while training and in the replay: the component keeps its
    # place in the page from run to run (a component whose place moves is drawn anew in the browser, losing its
    # marks and the images it got; the page keeps what comes and goes above it in containers too)
    with st.container():
        _live_map_section(data, running, dataset)


def _live_map_section(data: LiveMapData, running: bool, dataset) -> None:
    """live_map_panel's contents: the heading, the map (WebGL, or Plotly), its note and the colour choice."""
    st.subheader("Latent space as it learns")
    options = ["label", *data.factor_names]
    color_by = st.session_state.get("tr_live_color", "label")
    if color_by not in options:
        color_by = "label"
    what = ("the latent space itself (2-d)" if data.projection == "latent" else
            "its first two principal components (PCA fit on each frame)")
    webgl = live_webgl_panel(data, color_by, running, dataset)
    if not webgl:                           # the replay, or a browser without WebGL: the Plotly figure
        if wm.no_webgl():
            st.caption("This browser cannot draw WebGL: the live map is drawn with Plotly.")
        fig = live_map_figure(data, color_by, replay=not running)
        st.plotly_chart(fig, key="train_live_map", config={"displayModeBar": False})
    n = len(data.frames)
    note = (f"{n} frame{'s' if n != 1 else ''}: latent means of a fixed subset of {data.split} images, {what}, "
            "taken at each epoch's end and every few seconds within long epochs; capturing cost "
            f"{data.overhead_s:.1f} s in all")
    note += " (some epochs skipped to keep it under 5% of the training time)." if data.skipped else "."
    if not running and n > 1:
        held = len(replay_frames(data.frames))
        which = "the frames" if held == n else f"{held} of them, evenly spaced (the first and the last among them)"
        note += (f" Replay: Play plays {which}, the slider picks one; each frame is scaled to fill the map."
                 if webgl else f" Replay: the button plays {which}, the slider picks one; the axes stay put.")
    elif webgl:
        note += " Each frame is scaled to fill the map."
    st.caption(note)
    if len(options) > 1 and not running:
        st.segmented_control("Colour by", options, key="tr_live_color", default="label")
