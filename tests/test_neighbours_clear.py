"""The neighbours panel's query follows the map's selection: a double-click that clears it clears the query."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from vae.ui.map import neighbours


def _empty():
    return {"selection": {"points": [], "box": [], "lasso": [], "point_indices": []}}


def _selected(idx):
    return {"selection": {"points": [{"curve_number": 0, "point_index": int(i)} for i in idx],
                          "box": [], "lasso": [], "point_indices": [int(i) for i in idx]}}


@pytest.fixture()
def page(monkeypatch):
    state: dict = {}
    monkeypatch.setattr(neighbours.st, "session_state", state)
    rng = np.random.default_rng(0)
    n = 40
    lat = SimpleNamespace(index=np.arange(n), mu=rng.normal(size=(n, 3)).astype(np.float32),
                          logvar=np.zeros((n, 3), np.float32), labels=np.zeros(n, int))
    view = SimpleNamespace(lat=lat, xy=rng.normal(size=(n, 2)).astype(np.float32), method="pca", k=2,
                           to_map=None, from_map=None)
    ctx = SimpleNamespace(lm=SimpleNamespace(id="m"), dataset_key="d",
                          dataset=SimpleNamespace(test=SimpleNamespace(labels=np.zeros(n, int)), class_names=["0"]))
    traces = [np.arange(n)]
    return state, ctx, view, traces


def test_double_click_clearing_the_selection_clears_its_query(page):
    state, ctx, view, traces = page
    q = neighbours.map_query(ctx, view, "test", traces, _selected(range(12)))
    assert q is not None and q.what == "the centre of the selection (12 points)"
    # the next rerun without a chart state yet (e.g. another widget) keeps the query
    assert neighbours.map_query(ctx, view, "test", traces, None).what == q.what
    assert neighbours.map_query(ctx, view, "test", traces, _selected(range(12))).what == q.what
    # a double-click on the map: the chart's selection becomes empty -> no stale query is shown
    assert neighbours.map_query(ctx, view, "test", traces, _empty()) is None
    assert neighbours.map_query(ctx, view, "test", traces, _empty()) is None
    assert neighbours.map_query(ctx, view, "test", traces, None) is None


def test_query_kept_when_the_chart_state_was_already_empty(page):
    """Plotly resets the chart's selection when the figure is redrawn: an empty state that was empty before
    (no selection made since) keeps the last query, as the panel promises."""
    state, ctx, view, traces = page
    q = neighbours.map_query(ctx, view, "test", traces, _selected([3]))
    assert q is not None and q.position == 3
    state[neighbours._HAD_SELECTION] = False        # the chart was redrawn: its state forgot the selection
    assert neighbours.map_query(ctx, view, "test", traces, _empty()).position == 3
