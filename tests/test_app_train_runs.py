"""Issue 27: a new Start replaced the browser's last run, so runs could not be compared. The Train page keeps
this browser's runs (at most run_history.MAX_RUNS), lists them with their settings and outcome, shows a failed
run's error, and overlays their loss curves in one chart whose runs the user picks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("streamlit")

from tests.test_app_train import button, open_train, wait_finished  # noqa: E402
from tests.waits import HANG_S  # noqa: E402


def _snap(state="finished", error=None, steps=40, epochs=2, test=(30.0, 25.0)):
    return SimpleNamespace(state=state, error=error, epoch=len(test), epochs=epochs, total_steps=steps,
                           step_history=[{"step": s + 1, "loss": 50.0 - s * 0.5} for s in range(steps)],
                           epoch_history=[{"epoch": i + 1, "step": (i + 1) * steps // epochs, "test_loss": v}
                                          for i, v in enumerate(test)],
                           model_config={"arch": "mlp", "hidden": [32], "latent_dim": 2})


def test_a_record_keeps_the_outcome_and_thinned_curves_and_the_list_is_bounded():
    from vae.config import TrainConfig
    from vae.ui.training.run_history import CURVE_POINTS, MAX_RUNS, keep_record, record_of, table_rows

    tc = TrainConfig(dataset="digits", epochs=2, beta=4.0)
    r = record_of(_snap(steps=5000), tc, 3)
    assert (r.label, r.state, r.epoch, r.epochs, r.final_test_loss) == ("run 3", "finished", 2, 2, 25.0)
    assert len(r.train_x) <= CURVE_POINTS and r.train_x[-1] == pytest.approx(2.0)      # x in epochs
    assert r.test_x == (1.0, 2.0) and "β=4" in r.settings and "→ 2-d" in r.settings
    failed = record_of(_snap(state="failed", error="loss became NaN at step 7", steps=7, test=()), tc, 4)
    assert failed.final_test_loss is None and failed.error == "loss became NaN at step 7"
    rows = table_rows([r, failed])
    assert [row["run"] for row in rows] == ["run 4", "run 3"] and rows[0]["error"].startswith("loss became NaN")
    assert [row["final test −ELBO (nats)"] for row in rows] == ["— (no test epoch)", "25.00"]   # never "None"
    running = record_of(_snap(state="running", test=()), tc, 5)
    assert table_rows([running])[0]["final test −ELBO (nats)"] == "running…"
    kept = []
    for n in range(1, 12):
        kept = keep_record(kept, record_of(_snap(), tc, n))
    assert [k.number for k in kept] == list(range(12 - (MAX_RUNS - 1), 12))      # the newest MAX_RUNS - 1


def test_two_runs_of_a_browser_are_both_listed_and_both_curves_are_drawn():
    at = open_train(**{"tr_epochs_digits": 1, "tr_hidden_digits_mlp": "16"})
    button(at, "Start").click().run()
    assert wait_finished(at, HANG_S).startswith("finished")
    assert not any(s.value.startswith("This browser's runs") for s in at.subheader)     # one run: nothing to compare
    at.text_input(key="tr_hidden_digits_mlp").set_value("8").run()
    button(at, "Start").click().run()
    assert wait_finished(at, HANG_S).startswith("finished")
    assert not at.exception, [e.value for e in at.exception]

    assert any(s.value == "This browser's runs (2)" for s in at.subheader), [s.value for s in at.subheader]
    table = next(d for d in at.dataframe if "run" in d.value.columns).value
    assert list(table["run"]) == ["run 2", "run 1"]
    assert "mlp 8 → 2-d" in table["settings"][0] and "mlp 16 → 2-d" in table["settings"][1]
    assert list(table["epochs"]) == ["1/1", "1/1"] and list(table["status"]) == ["finished", "finished"]
    assert table["final test −ELBO (nats)"].notna().all()

    def overlay_runs() -> set[str]:
        chart = next((c for c in at.get("plotly_chart") if "tr_runs_overlay" in c.proto.id), None)
        if chart is None:
            return set()
        import json
        return {t.get("legendgroup") for t in json.loads(chart.proto.spec)["data"]}

    assert overlay_runs() == {"run 1", "run 2"}
    at.multiselect(key="tr_runs_show").set_value(["run 2"]).run()           # the user picks which to draw
    assert overlay_runs() == {"run 2"}
    at.switch_page("pages/decode.py").run()
    at.switch_page("pages/train.py").run()                                   # the pick survives a page switch
    assert at.multiselect(key="tr_runs_show").value == ["run 2"] and overlay_runs() == {"run 2"}


def test_a_failed_run_shows_its_error_in_the_list():
    from vae.config import ModelConfig, TrainConfig
    from vae.data import load_dataset
    from vae.ui.hosting.owner import public_id
    from vae.ui.training import jobs as training

    token, ds = "f2" * 16, load_dataset("digits")
    bid = public_id(token)
    bad = ModelConfig(image_size=8, latent_dim=2, hidden=(16,), likelihood="gaussian", gaussian_sigma=1e-30)
    job = training.start_job(bid, bad, TrainConfig(dataset="digits", epochs=1), ds)
    assert job.wait(HANG_S) and job.snapshot().state == "failed"
    good = training.start_job(bid, ModelConfig(image_size=8, latent_dim=2, hidden=(16,)),
                              TrainConfig(dataset="digits", epochs=1), ds)
    assert good.wait(HANG_S)
    at = open_train(token=token)
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any(e.startswith("run 1 failed:") and job.snapshot().error in e for e in errors), errors
