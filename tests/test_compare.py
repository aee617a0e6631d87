"""vae.analysis.compare: model summaries and sweep summaries read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vae.analysis import factors as factor_module
from vae.analysis.compare import find_sweeps, load_sweep_summary, summarize_model
from vae.analysis.factors import METRIC_KEYS
from vae.sweep_format import SweepError

BUNDLED_SWEEP = Path(__file__).resolve().parents[1] / "assets" / "sweeps" / "shapes-beta"


def test_the_bundled_sweep_summary_reads_back():
    if not (BUNDLED_SWEEP / "sweep.json").is_file():
        pytest.skip("no bundled sweep summary")
    sweep = load_sweep_summary(BUNDLED_SWEEP)
    assert sweep.setting == "beta" and len(sweep.values) >= 3
    rows = sweep.rows()
    assert [r["beta"] for r in rows] == sweep.values
    for r in rows:
        assert r["kl"] > 0 and r["recon"] < 0 and r["iwae"] >= r["elbo"]
        for key in METRIC_KEYS:
            assert 0 <= r[key] <= 1
    kls = [r["kl"] for r in rows]
    assert kls == sorted(kls, reverse=True)          # a larger beta, a lower rate
    assert "sweeps/shapes-beta" in find_sweeps(BUNDLED_SWEEP.parent.parent / "sweeps")


def test_a_folder_without_a_plan_or_with_bad_json_is_refused(tmp_path):
    with pytest.raises(SweepError, match="not a sweep folder"):
        load_sweep_summary(tmp_path)
    (tmp_path / "sweep.json").write_text(json.dumps({"setting": "beta", "values": [1, 4], "runs": ["beta-1", "beta-4"]}))
    (tmp_path / "beta-1.json").write_text("{not json")
    with pytest.raises(SweepError, match="beta-1.json"):
        load_sweep_summary(tmp_path)
    (tmp_path / "beta-1.json").write_text(json.dumps({"elbo": -1.0, "recon": -0.5, "kl": 0.5}))
    sweep = load_sweep_summary(tmp_path)
    assert sweep.summaries[1] is None and [r["run"] for r in sweep.rows()] == ["beta-1"]


def test_summarize_model_on_shapes_has_bounds_and_factor_metrics(assets_dir, monkeypatch):
    from vae import load_model
    from vae.data import load_dataset

    monkeypatch.setattr(factor_module, "FACTORVAE_VOTES", (30, 30))
    model = load_model(assets_dir / "shapes-8d")
    ds = load_dataset("shapes", n_train=10, n_test=200)
    seen = []
    s = summarize_model(model, ds, iwae_samples=5, factor_options={"n_points": 300, "dci_trees": 30},
                        progress=lambda f, what: seen.append(f))
    assert s["iwae"] >= s["elbo"] - 1.0 and s["active_units"] >= 1
    assert all(0 <= s[k] <= 1 for k in METRIC_KEYS)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    digits = summarize_model(load_model(assets_dir / "digits-2d"), load_dataset("digits"), iwae_samples=5)
    assert "mig" not in digits and digits["kl"] > 0


def test_the_compare_table_as_csv_has_the_pages_rows_and_columns():
    """Issue 27: the Compare table is exported as CSV (its 'Table as CSV' button): a row per figure, a column per
    model, a missing value empty, the figure names kept in UTF-8."""
    import csv
    import io

    pytest.importorskip("streamlit")
    from vae.ui.compare.models import summary_table, table_csv

    table = summary_table(["sidebar: a", "bundled: b"], [{"elbo": -101.23456, "recon": -90.0, "kl": 11.2345},
                                                         None])
    rows = list(csv.reader(io.StringIO(table_csv(table).decode("utf-8"))))
    assert rows[0] == ["figure", "sidebar: a", "bundled: b"]
    assert [r[0] for r in rows[1:]] == table[""]
    by_name = {r[0]: r[1:] for r in rows[1:]}
    elbo = next(n for n in table[""] if n.startswith("ELBO"))
    assert by_name[elbo] == ["-101.235", ""]                         # rounded as the page shows it; none: empty
