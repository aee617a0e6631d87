"""A background task publishes intermediate results (a t-SNE layout as it computes) for the page to draw."""

from __future__ import annotations

import threading

import numpy as np

from vae.ui.colours import LABEL_COLOURS
from vae.ui.map.figures import scatter_png


def test_a_task_shows_what_it_published_while_it_runs():
    from vae.ui import tasks

    go, seen = threading.Event(), []

    def work(progress):
        progress.publish("first")
        progress(1, 2, "half")
        go.wait(10)
        progress.publish("second")
        return "result"

    t = tasks.submit("test-partial", work)
    t.touch()
    for _ in range(1000):
        if t.partial is not None:
            break
        threading.Event().wait(0.01)
    seen.append((t.partial, t.partials, t.is_done))
    go.set()
    t.thread.join(10)
    assert seen == [("first", 1, False)]
    assert t.result == "result" and t.partial == "second" and t.partials == 2 and t.error is None


def test_a_tsne_task_publishes_its_layouts(monkeypatch):
    from vae.ui import tasks

    monkeypatch.setattr(tasks, "ABANDON_S", 600.0)       # no page polls it here; a busy machine is slow

    rng = np.random.default_rng(0)
    mu = np.concatenate([rng.normal(0, 1, (150, 4)), rng.normal(6, 1, (150, 4))]).astype(np.float32)
    t = tasks.projection_task("test-tsne-partial", mu, "tsne")
    t.thread.join(120)
    assert t.error is None and t.partials > 10
    it, total, xy = t.partial
    assert 0 < it < total == 375 and xy.shape == (300, 2) and not np.array_equal(xy, t.result.embedding)
    # measured for the page's note beside its time (no labels given: trustworthiness only)
    q = t.result.params["quality"]
    assert q["trustworthiness"] > 0.9 and q["knn_accuracy"] is None


def test_scatter_png_puts_each_label_in_its_colour_inside_the_image():
    xy = np.array([[0.0, 0.0], [10.0, 5.0], [5.0, 2.5]])
    img = np.asarray(scatter_png(xy, np.array([0, 1, 2]), width=100, height=60, dot=2))
    assert img.shape == (60, 100, 3)
    colours = {tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in LABEL_COLOURS[:3]}
    found = {tuple(p) for p in img.reshape(-1, 3)} - {(255, 255, 255)}
    assert found == colours
    # y up: the point with the largest y is in the top rows, the smallest in the bottom ones
    top = {tuple(p) for p in img[:10].reshape(-1, 3)} - {(255, 255, 255)}
    assert top == {tuple(int(LABEL_COLOURS[1][i:i + 2], 16) for i in (1, 3, 5))}
    assert np.asarray(scatter_png(np.full((3, 2), np.nan), np.zeros(3))).min() == 255     # nothing to draw
