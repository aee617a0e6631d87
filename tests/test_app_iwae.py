"""The Train page trains on the IWAE objective and shows its bound per epoch."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")

from tests.test_app_train import button, open_train, wait_finished  # noqa: E402


def test_train_page_trains_an_iwae_model_and_shows_the_bound():
    at = open_train(**{"tr_epochs_digits": 2, "tr_hidden_digits_mlp": "32", "tr_objective": "iwae", "tr_k": 5,
                       "tr_lr_schedule": "burda"})
    k_slider = next(s for s in at.select_slider if s.label == "IWAE samples k")
    assert not k_slider.disabled
    button(at, "Start").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    sid = at.session_state["_vae_browser_id"]
    assert wait_finished(at).startswith("finished")
    from vae.ui.training import jobs as training
    job = training.job_for(sid)
    assert (job.train_config.objective, job.train_config.k, job.train_config.lr_schedule) == ("iwae", 5, "burda")
    records = job.snapshot().epoch_history
    assert [r["k"] for r in records] == [5, 5]
    assert all(0 < r["test_iwae_loss"] < r["test_loss"] + 0.5 for r in records)
    table = at.dataframe[0].value
    assert "test_iwae_loss" in table.columns and "train_iwae_loss" in table.columns


def test_k_is_shown_for_iwae_only():
    at = open_train()
    assert "IWAE samples k" not in [s.label for s in at.select_slider]     # the ELBO takes one sample
