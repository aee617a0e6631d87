"""The Posterior page's "compare with the twin" (vae/ui/posterior/twin.py) and the width measure
(vae/analysis/posterior_width.py), on two tiny 2-d digits models trained on the ELBO and on IWAE."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from vae import load_model  # noqa: E402
from tests.waits import HANG_S  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")


@pytest.fixture(scope="module")
def twin_assets(tmp_path_factory) -> Path:
    from vae.cli import main

    out = tmp_path_factory.mktemp("twin-assets")
    base = ["train", "--dataset", "digits", "--latent-dim", "2", "--hidden", "64", "--epochs", "6", "--device", "cpu",
            "--threads", "1", "--no-optimizer-state", "--quiet"]
    assert main([*base, "--out", str(out / "d2")]) == 0
    assert main([*base, "--objective", "iwae", "--k", "5", "--out", str(out / "d2-iwae")]) == 0
    return out


def test_twin_names():
    from vae.ui.posterior.twin import twin_name

    assert twin_name("mnist-2d") == "mnist-2d-iwae" and twin_name("mnist-2d-iwae") == "mnist-2d"


def test_posterior_width_of_a_model(twin_assets):
    from vae.analysis.posterior_width import posterior_width, posterior_width_summary
    from vae.data import load_dataset

    model, images = load_model(twin_assets / "d2-iwae"), load_dataset("digits").test.images[:3]
    one = posterior_width(model, images[:1], grid_size=101)
    assert all(s > 0 for s in (*one.q_sd, *one.posterior_sd)) and one.area_ratio > 0
    assert one.kl_q_to_posterior >= -1e-6
    assert one.log_px == pytest.approx(one.elbo + one.kl_q_to_posterior, abs=0.05)
    summary = posterior_width_summary(model, images, grid_size=101)
    assert summary["n"] == 3 and summary["log_px"] > summary["elbo"]
    with pytest.raises(ValueError, match="at least one"):
        posterior_width_summary(model, torch.zeros(0, 1, 8, 8, dtype=torch.uint8))


@pytest.mark.parametrize("model", ["d2-iwae", "d2"])
def test_posterior_page_compares_both_twins(twin_assets, monkeypatch, model):
    from vae.ui import loaders

    monkeypatch.setattr(loaders, "ASSETS_DIR", twin_assets)
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.session_state["sb_bundled"] = model
    at.run()
    at.switch_page("pages/posterior.py").run()
    assert not at.exception, [e.value for e in at.exception]
    toggle = at.toggle(key="post_twin")
    assert ("ELBO twin (d2)" if model == "d2-iwae" else "IWAE twin (d2-iwae)") in toggle.label
    charts = len(at.get("plotly_chart"))
    toggle.set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == charts + 2
    table = at.dataframe[-1].value
    assert list(table["model"]) == ["d2: ELBO", "d2-iwae: IWAE k=5"]          # ELBO first, whichever is open
    at.toggle(key="post_twin_same").set_value(False).run()                    # each panel zoomed to its own
    assert not at.exception and len(at.get("plotly_chart")) == charts + 2
    for _, row in table.iterrows():
        assert row["log p(x)"] == pytest.approx(row["ELBO"] + row["gap KL(q‖p(z|x))"], abs=0.05)
        assert row["sd of q(z|x)"] > 0 and row["area q / p(z|x)"] > 0


def test_no_toggle_without_a_twin(assets_dir, monkeypatch):
    from vae.ui import loaders

    monkeypatch.setattr(loaders, "ASSETS_DIR", assets_dir)
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.session_state["sb_bundled"] = "digits-2d"
    at.run()
    at.switch_page("pages/posterior.py").run()
    assert not at.exception
    assert not [t for t in at.toggle if t.key == "post_twin"]
