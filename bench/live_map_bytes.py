"""Bytes the Train page's live map sends the browser: the Plotly figure (before) against the WebGL
component's binary arguments (after), per frame while training and for a whole replay.

    python bench/live_map_bytes.py [--points 300 2000] [--frames 60]

Synthetic frames (Gaussian blobs per label, 10 labels); the Plotly size is the figure's JSON (what
st.plotly_chart sends), the WebGL size the arguments' bytes (xy float32 + uint16 label) plus the JSON of the
other arguments. A rerun of the page's fragment (every second while training) with no new frame sends the
WebGL component no points (the browser holds them); Plotly sends the figure again. A replay in WebGL sends
one frame per step (the server steps it, at most 30), Plotly all its frames (at most 60) at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from vae.analysis.live_map import LatentFrame, LiveMapData  # noqa: E402
from vae.ui.components.webgl_scatter import pack_points  # noqa: E402
from vae.ui.training.live_map import live_map_figure  # noqa: E402
from vae.ui.training.live_map_webgl import _colours, frame_extent, frame_ndc  # noqa: E402


def data(n: int, frames: int) -> LiveMapData:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n)
    centres = rng.normal(size=(10, 2)) * 3
    fr = tuple(LatentFrame(epoch=float(k), step=k, explained=None, seconds=0.0,
                           xy=(centres[labels] * (k + 1) / frames + rng.normal(size=(n, 2))).astype(np.float32))
               for k in range(frames))
    return LiveMapData(index=np.arange(n), labels=labels, class_names=tuple(map(str, range(10))), factors=None,
                       factor_names=(), projection="latent", frames=fr, overhead_s=0.0, skipped=0)


def webgl_frame_bytes(d: LiveMapData, frame: LatentFrame) -> int:
    c, h = frame_extent(d.frames, snap=True)
    args = _colours(d, "label")
    packed = pack_points(frame_ndc(frame, c, h), args.pop("categories"))
    rest = json.dumps({k: v for k, v in args.items()})
    return sum(len(b) for b in packed.values() if b) + len(rest)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, nargs="+", default=[300, 2000])
    ap.add_argument("--frames", type=int, default=60)
    a = ap.parse_args()
    print(f"{'points':>7} {'what':<28} {'Plotly B':>10} {'WebGL B':>10} {'ratio':>7}")
    for n in a.points:
        d = data(n, a.frames)
        live_p = len(live_map_figure(d, "label", replay=False).to_json())
        live_w = webgl_frame_bytes(d, d.frames[-1])
        replay_p = len(live_map_figure(d, "label", replay=True).to_json())
        same_w = len(json.dumps({k: v for k, v in _colours(d, "label").items() if k != "categories"}))
        per_p = replay_p / min(a.frames, 60)            # Plotly's replay holds up to 60 frames, sent at once
        print(f"{n:>7} {'a new frame while training':<28} {live_p:>10,} {live_w:>10,} {live_p / live_w:>7.1f}")
        print(f"{n:>7} {'a rerun, no new frame':<28} {live_p:>10,} {same_w:>10,} {live_p / same_w:>7.1f}")
        print(f"{n:>7} {'a replay, per frame':<28} {per_p:>10,.0f} {live_w:>10,} {per_p / live_w:>7.1f}")


if __name__ == "__main__":
    main()
