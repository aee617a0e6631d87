"""The Python side of a WebGL map lasso (or box): from the bytes the browser sent to everything the Latent map page
does with the selection (no browser, no server), for this tree and a baseline git ref in the same run.

The page (pages/latent_map.py) on the rerun a lasso causes: reads the component's value as an event twice
(wm.previous_event: once for the neighbours' query, once after drawing), finds the query (nb.map_query: the
centre of the selected points), turns the event into dataset indices (selected_points), stores the
selection for the other pages (state.MapSelection), offers 'Isolate selection' (mc.isolate_buttons) and the
export buttons (export_buttons). Each step is timed here on a map of N points with k selected (a random
k of the N positions, as a lasso over a region sends them: int32, unsorted), in bare Streamlit (session state in
memory; widgets return their defaults). The neighbour search is left out (it costs the same for any k).
--kinds lasso,box: the same k points selected by a lasso, then by a box (its value also carries the box's corners,
which the page turns into map coordinates and a centre to decode; the decode itself is left out, as the search).

    python bench/webgl_selection.py [--n 1000000] [--sizes 1000,100000,1000000] [--kinds lasso,box]
                                    [--baseline-ref main] [--repeat 3]

Table: ms per step, best of --repeat, for the baseline and this tree, and the ratio baseline / this tree; with
two kinds, a last column: this tree's box / lasso.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[1]
STEPS = ("read event x2", "query", "indices", "store + isolate + export", "total")


def _browser_value(fields: dict, points: np.ndarray) -> bytes:
    """The bytes frontend/src/messaging.js encodeValue sends (see vae.ui.components.webgl_scatter)."""
    head = json.dumps(fields).encode()
    return len(head).to_bytes(4, "little") + head + b"\0" * (-len(head) % 4) + np.asarray(points, "<i4").tobytes()


def measure(n: int, k: int, repeat: int, kind: str = "lasso") -> dict[str, float]:
    """ms per step of the page's selection path (best of `repeat`) for k of n points selected by a `kind`."""
    import streamlit as st

    from vae.ui import state
    from vae.ui.latents import Latents
    from vae.ui.map import map_controls as mc
    from vae.ui.map import neighbours as nb
    from vae.ui.map import webgl_map as wm
    from vae.ui.map.export import export_buttons
    from vae.ui.map.latent_map import MapView, selected_points

    rng = np.random.default_rng(0)
    index = np.arange(n, dtype=np.int64)
    mu = rng.normal(size=(n, 2)).astype(np.float32)
    lat = Latents(index, mu, np.zeros_like(mu), (np.arange(n) % 10).astype(np.int64), None)
    ident = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    view = MapView("latent", lat, mu, ("z1", "z2"), ident, ident)
    ds = SimpleNamespace(class_names=[str(i) for i in range(10)], test=SimpleNamespace(images=None, labels=lat.labels))
    ctx = SimpleNamespace(lm=SimpleNamespace(id="m", label="m"), dataset_key="d", dataset=ds)
    fields = {"seq": 1, "kind": kind, "webgl": True, "drawn": "k"}
    if kind == "box":
        fields["box"] = [-0.5, -0.5, 0.5, 0.5]
    raw = _browser_value(fields, rng.permutation(n)[:k].astype(np.int32))
    key = "bench_map_webgl"
    traces = [view.lat.index]
    best = {s: float("inf") for s in STEPS}
    for _ in range(repeat):
        st.session_state.clear()
        if hasattr(wm, "_cached_ndc"):
            wm._cached_ndc(key, view.xy)     # made when the map was drawn (kept while its coordinates are)
        st.session_state[key] = raw
        t = [time.perf_counter()]
        ev = wm.previous_event(key, view.xy)
        event = wm.previous_event(key)
        t.append(time.perf_counter())
        query = nb.map_query(ctx, view, "test", traces, ev)
        t.append(time.perf_counter())
        indices, _ = selected_points(event, traces)
        t.append(time.perf_counter())
        if len(indices):
            state.set_selection(state.MapSelection("m", "d", "test", list(indices) if isinstance(indices, list)
                                                   else np.asarray(indices).tolist()))
            mc.isolate_buttons(ctx, "test", indices)
        export_buttons(ctx, view, "test", indices, None)
        t.append(time.perf_counter())
        assert query is not None and len(indices) == k, (query, len(indices))
        for s, a, b in zip(STEPS, t, t[1:]):
            best[s] = min(best[s], (b - a) * 1e3)
        best["total"] = min(best["total"], (t[-1] - t[0]) * 1e3)
    return best


def _run_tree(tree: Path | None, n: int, sizes: list[int], repeat: int, kinds: list[str]) -> dict:
    """measure() for each kind and k in a subprocess importing vae from `tree` (None: this checkout)."""
    env = {**os.environ, "PYTHONPATH": str(tree or REPO)}
    out = subprocess.run([sys.executable, __file__, "--child", "--n", str(n), "--sizes", ",".join(map(str, sizes)),
                          "--kinds", ",".join(kinds), "--repeat", str(repeat)], env=env, cwd=str(tree or REPO),
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"the run in {tree or REPO} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="points on the map")
    ap.add_argument("--sizes", default="1000,100000,1000000", help="selected points (comma-separated)")
    ap.add_argument("--baseline-ref", default="main", help="git ref to compare against ('' for none)")
    ap.add_argument("--kinds", default="lasso", help="what selects them: lasso, box or both (comma-separated)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = [s.strip() for s in args.kinds.split(",") if s.strip()]
    if not kinds or set(kinds) - {"lasso", "box"}:
        raise SystemExit(f"--kinds: lasso and/or box, got {args.kinds!r}")
    if args.child:
        logging.disable(logging.WARNING)          # bare Streamlit warns on every widget
        sys.path.insert(0, os.getcwd())
        print(json.dumps({f"{kind} {k}": measure(args.n, k, args.repeat, kind) for kind in kinds for k in sizes}))
        return
    base = None
    if args.baseline_ref:
        with tempfile.TemporaryDirectory() as tmp:
            arch = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline_ref, "vae"], check=True,
                                  capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=arch, check=True)
            base = _run_tree(Path(tmp), args.n, sizes, args.repeat, kinds)
    here = _run_tree(None, args.n, sizes, args.repeat, kinds)
    both = kinds == ["lasso", "box"] or kinds == ["box", "lasso"]
    print(f"Python side of a WebGL map lasso, {args.n:,} points on the map, ms (best of {args.repeat}); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'selected':>10} {'by':<6} {'step':<26} " + (f"{args.baseline_ref:>10} " if base else "")
          + f"{'this tree':>10}" + (f" {'ratio':>7}" if base else "") + (f" {'box/lasso':>10}" if both else ""))
    for k in sizes:
        for kind in kinds:
            for s in STEPS:
                h = here[f"{kind} {k}"][s]
                row = f"{k:>10,} {kind:<6} {s:<26} "
                if base:
                    b = base[f"{kind} {k}"][s]
                    row += f"{b:>10.1f} {h:>10.1f} {b / max(h, 1e-3):>6.1f}x"
                else:
                    row += f"{h:>10.1f}"
                if both and kind == "box":
                    row += f" {h / max(here[f'lasso {k}'][s], 1e-3):>9.2f}x"
                print(row)


if __name__ == "__main__":
    main()
