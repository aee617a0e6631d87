"""The Compare page's summary of a model takes the factor metrics the Factors page has already computed for it
(the same options and seed) instead of computing the same numbers again: a person who looked at Factors and
then at Compare waited twice for one result (10-20 s of CPU each on shapes)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from tests.waits import HANG_S


def _wait(task):
    deadline = time.monotonic() + HANG_S
    while not task.is_done:
        assert time.monotonic() < deadline, "the task never finished"
        task.touch()                   # a page is asking: not abandoned
        time.sleep(0.05)
    assert task.error is None, task.error
    return task.result


@pytest.fixture
def counted_factors(monkeypatch):
    """evaluate_factors replaced by a stub that counts its calls and returns fixed metrics."""
    import vae.analysis.factors as factors

    calls = []

    def stub(model, dataset, **kwargs):
        calls.append(kwargs)
        return {"mig": 0.25, "factor_protocol": {"seed": kwargs.get("seed", 0)}}

    monkeypatch.setattr(factors, "evaluate_factors", stub)
    return calls


def test_summarize_model_takes_given_factor_metrics(assets_dir, counted_factors):
    from vae import load_model
    from vae.analysis.compare import summarize_model
    from vae.data import load_dataset

    model = load_model(assets_dir / "shapes-8d")
    ds = load_dataset("shapes", n_train=10, n_test=50)
    s = summarize_model(model, ds, iwae_samples=2, factor_metrics={"mig": 0.5, "sap": 0.125})
    assert counted_factors == [] and s["mig"] == 0.5 and s["sap"] == 0.125 and "elbo" in s
    s = summarize_model(model, ds, iwae_samples=2)
    assert len(counted_factors) == 1 and s["mig"] == 0.25


def test_compare_summary_reuses_the_factors_pages_metrics(assets_dir, counted_factors):
    from vae import load_model
    from vae.data import load_dataset
    from vae.ui.compare.factors import PRECISIONS, factors_task, finished_factors
    from vae.ui.compare.models import summary_task

    ds = load_dataset("shapes", n_train=10, n_test=50)
    model = load_model(assets_dir / "shapes-8d")
    seen = SimpleNamespace(id=f"test-shares-factors-seen-{time.monotonic_ns()}", model=model)
    unseen = SimpleNamespace(id=f"test-shares-factors-unseen-{time.monotonic_ns()}", model=model)

    assert finished_factors(seen, "shapes-small") is None          # never asked: nothing to take
    factors = _wait(factors_task(seen, ds, "shapes-small", "quick"))
    assert len(counted_factors) == 1 and finished_factors(seen, "shapes-small") is factors
    assert finished_factors(seen, "shapes-small", "full") is None   # another precision: not the same numbers
    summary = _wait(summary_task(seen, ds, "shapes-small", 2))
    assert len(counted_factors) == 1                               # not computed again
    assert summary["mig"] == 0.25 and "elbo" in summary

    other = _wait(summary_task(unseen, ds, "shapes-small", 2))     # the Factors page never saw this one
    assert len(counted_factors) == 2 and other["mig"] == 0.25
    # the same options and seed as the Factors page's "quick" metrics, so that the numbers are the same
    assert counted_factors[0] == {**PRECISIONS["quick"], "progress": counted_factors[0]["progress"]}
    assert {k: v for k, v in counted_factors[1].items() if k != "progress"} == {**PRECISIONS["quick"], "seed": 0}
