"""The Train page's Objective selectbox (issue 25): it offers beta-TCVAE and FactorVAE, each objective shows
only its own parameter inputs, and a FactorVAE run started from the page trains with them."""

from __future__ import annotations

import shlex

import pytest

pytest.importorskip("streamlit")
from tests.test_app_train import button, open_train, wait_finished  # noqa: E402
from tests.waits import HANG_S  # noqa: E402


def labels(at) -> set[str]:
    return {w.label for kind in ("number_input", "select_slider", "selectbox") for w in at.get(kind)}


def test_each_objective_shows_only_its_own_inputs():
    at = open_train(sid="objectives1")
    box = at.selectbox(key="tr_objective")
    assert list(box.options) == ["elbo (ELBO)", "iwae (IWAE bound)", "tcvae (beta-TCVAE)", "factorvae (FactorVAE)"]
    shown = labels(at)
    assert "beta (KL weight)" in shown
    assert not shown & {"IWAE samples k", "gamma (total-correlation weight)", "Discriminator layers",
                        "beta (total-correlation weight)"}

    box.set_value("iwae").run()
    assert "IWAE samples k" in labels(at) and "gamma (total-correlation weight)" not in labels(at)

    at.selectbox(key="tr_objective").set_value("tcvae").run()
    shown = labels(at)
    assert "beta (total-correlation weight)" in shown and "beta (KL weight)" not in shown
    assert at.number_input(key="tr_tc_beta").value == 6.0
    assert not shown & {"IWAE samples k", "gamma (total-correlation weight)", "Discriminator layers"}

    at.selectbox(key="tr_objective").set_value("factorvae").run()
    shown = labels(at)
    assert {"beta (KL weight)", "gamma (total-correlation weight)", "Discriminator layers",
            "Discriminator learning rate"} <= shown
    assert not shown & {"IWAE samples k", "beta (total-correlation weight)"}
    assert not at.exception and not at.error


@pytest.mark.parametrize("objective, fields", [
    ("factorvae", {"tr_gamma": 20.0, "tr_disc_hidden": "256 256"}),
    ("tcvae", {"tr_tc_beta": 4.0}),
])
def test_a_run_started_from_the_page_trains_with_its_objective(objective, fields):
    from vae.cli import _train_config_from_args, build_parser
    from vae.ui.training import jobs as training

    at = open_train(**{"tr_epochs_digits": 2, "tr_batch_digits": 512, "tr_hidden_digits_mlp": "32",
                                "tr_objective": objective, **fields})
    button(at, "Start").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    sid = at.session_state["_vae_browser_id"]
    assert wait_finished(at, HANG_S).startswith("finished")   # a niced child: slow on a busy machine
    recipe = training.job_for(sid).train_config
    assert recipe.objective == objective
    if objective == "factorvae":
        assert (recipe.gamma, recipe.disc_hidden, recipe.beta) == (20.0, (256, 256), 1.0)
    else:
        assert recipe.beta == 4.0
    history = training.job_for(sid).snapshot().epoch_history
    assert len(history) == 2 and all("train_tc" in r for r in history)
    line = next(c.value for c in at.code if c.value.startswith("python -m vae train"))
    assert f"--objective {objective}" in line
    assert _train_config_from_args(build_parser().parse_args(shlex.split(line)[3:])) == recipe
