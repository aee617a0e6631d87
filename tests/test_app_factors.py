"""The Factors and Compare pages under Streamlit's AppTest (the browser tests are in tests/e2e/)."""

from __future__ import annotations

import pytest

from tests.test_app_pages import open_page, plotly_figures  # noqa: F401  (open_page is a fixture)


def test_factors_page_on_digits_says_there_are_no_factors(open_page):  # noqa: F811
    at = open_page("factors", model="digits-2d")
    assert any("has no ground-truth factors" in i.value for i in at.info)
    assert len(at.metric) == 0


def test_compare_with_one_model_asks_for_two(open_page):  # noqa: F811
    at = open_page("compare", model="digits-2d")
    assert any("Choose two or more models" in i.value for i in at.info)


def test_compare_sweep_tab_draws_the_bundled_sweep(open_page, assets_dir):  # noqa: F811
    if not (assets_dir / "sweeps" / "shapes-beta" / "sweep.json").is_file():
        pytest.skip("no bundled sweep summary")
    at = open_page("compare", model="digits-2d")
    titles = [f["layout"].get("title", {}).get("text") for f in plotly_figures(at)]
    assert "Rate against distortion" in titles
    assert "Factor metrics against beta" in titles and "Bounds on log p(x) against beta" in titles
    rd = next(f for f in plotly_figures(at) if f["layout"].get("title", {}).get("text") == "Rate against distortion")
    rate = rd["data"][0]["x"]
    assert len(rate) == 5 and rate == sorted(rate, reverse=True)       # beta 1 .. 16: less and less rate


def test_compare_scores_a_sweep_folder_in_the_background(open_page, tmp_path, monkeypatch):  # noqa: F811
    """A sweep folder under runs/ (checkpoints, no summaries): its models are scored in the background
    with progress, then drawn."""
    import time

    from vae.config import ModelConfig, TrainConfig
    from vae.train.sweep import plan_sweep, run_sweep
    from vae.ui import loaders

    run_sweep(plan_sweep("beta", [1, 4], ModelConfig(image_size=8, hidden=(16,), latent_dim=2),
                         TrainConfig(dataset="digits", epochs=1, batch_size=256, seed=2, device="cpu"),
                         tmp_path / "runs" / "tiny"))
    monkeypatch.setattr(loaders, "REPO", tmp_path)
    at = open_page("compare", model="digits-2d", cmp_sweep="runs/tiny")
    deadline = time.monotonic() + 600
    while not any(f["layout"].get("title", {}).get("text") == "Rate against distortion" for f in plotly_figures(at)):
        assert not at.error, [e.value for e in at.error]
        assert time.monotonic() < deadline, "the sweep's models were never scored"
        time.sleep(0.5)
        at.run()
    titles = [f["layout"].get("title", {}).get("text") for f in plotly_figures(at)]
    assert "Bounds on log p(x) against beta" in titles
    assert "Factor metrics against beta" not in titles            # digits have no factors
    rd = next(f for f in plotly_figures(at) if f["layout"].get("title", {}).get("text") == "Rate against distortion")
    assert len(rd["data"][0]["x"]) == 2


def test_factors_matrix_choice_survives_a_change_of_precision(open_page, monkeypatch):  # noqa: F811
    """Issue 27: "DCI importance", then precision "full": the radio read I/H (the browser forgot the radio
    while the page waited for the new metrics) while the heat map still showed DCI importance. The radio
    and the traversal's start stay on the page while it waits, and the heat map follows the radio."""
    import time

    from vae.ui.compare import factors as fu

    # both precisions cheap here (a few hundred images and votes; "full" still another computation, on other
    # points): what is tested is the page, not the protocol
    monkeypatch.setitem(fu.PRECISIONS, "quick", dict(fu.PRECISIONS["quick"], n_points=400, factorvae_votes=(20, 20)))
    monkeypatch.setitem(fu.PRECISIONS, "full", dict(fu.PRECISIONS["quick"], n_points=300))

    def settle(at):
        deadline = time.monotonic() + 600
        while not at.metric:
            assert not at.error and not at.exception, [e.value for e in at.error or at.exception]
            assert time.monotonic() < deadline, "the factor metrics never came"
            time.sleep(0.3)
            at.run()

    at = open_page("factors", model="shapes-8d")
    settle(at)
    at.radio(key="factors_matrix").set_value("dci_importance").run()
    at.radio(key="factors_start").set_value("a test image").run()
    at.radio(key="factors_precision").set_value("full").run()
    if not at.metric:                       # waiting for the new metrics: the choices are still drawn
        assert at.radio(key="factors_matrix").value == "dci_importance"
        assert at.radio(key="factors_start").value == "a test image"
    settle(at)
    assert at.radio(key="factors_matrix").value == "dci_importance"
    heat = [c for c in at.get("plotly_chart") if "factors_heat" in c.key]
    assert len(heat) == 1 and heat[0].key.endswith("_dci_importance")


def test_compare_shows_no_column_of_none_while_a_model_is_scored(open_page, monkeypatch):  # noqa: F811
    """The models' table showed a column of "None" cells for each model still being scored (seconds under load);
    now it has a column per model scored, the others' progress bars above it."""
    import threading

    from tests.waits import HANG_S
    from vae.ui.compare import models as cm

    release = threading.Event()

    def held(*args, **kwargs):           # the scoring, held until the test has looked; then it fails, costing nothing
        release.wait(HANG_S)
        raise RuntimeError("scoring stopped by the test")

    monkeypatch.setattr(cm, "summarize_model", held)
    try:
        at = open_page("compare", model="mnist-2d", cmp_k=10)
        assert len([m for m in at.multiselect if m.label == "Models"][0].value) == 2
        assert at.get("progress"), "both models are being scored: their progress shows"
        for frame in at.dataframe:
            df = frame.value
            assert not any(df[c].isna().all() for c in df.columns if c != ""), df
    finally:
        release.set()
