"""The README's sweep tables are the bundled sweep summaries, cell for cell.

README.md's beta sweep table and objectives table (MIG, DCI, SAP, FactorVAE score, bounds) are typed by hand
from `assets/sweeps/*/RUN.json` (`evaluate --factors --iwae-samples 100 --json`); every figure must be the
summary's value rounded to the printed decimals, and every point of a sweep must have its row. The shapes-beta
figures in assets/README.md are those of the sweep's beta = 8 point (the same model, bit for bit).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SWEEPS = REPO / "assets" / "sweeps"
README = REPO / "README.md"

# README column header -> summary key
COLUMNS = {"ELBO": "elbo", "E[log p(x\\|z)]": "recon", "KL": "kl", "IWAE (K=100)": "iwae", "active units": "active_units",
           "MIG": "mig", "DCI dis.": "dci_disentanglement", "DCI compl.": "dci_completeness",
           "DCI inform.": "dci_informativeness", "SAP": "sap", "FactorVAE": "factorvae_score",
           "FactorVAE score": "factorvae_score"}


def table_after(text: str, header_start: str) -> tuple[list[str], list[list[str]]]:
    """(header cells, body rows' cells) of the Markdown table whose header line starts with `header_start`."""
    lines = text.splitlines()
    [start] = [i for i, ln in enumerate(lines) if ln.startswith(header_start)]
    split = lambda ln: [c.strip() for c in ln.strip().strip("|").split("|")]
    header, rows = split(lines[start].replace("\\|", "\u2223")), []
    for ln in lines[start + 2:]:
        if not ln.startswith("|"):
            break
        rows.append(split(ln.replace("\\|", "\u2223")))
    return [h.replace("\u2223", "\\|") for h in header], rows


def summary(sweep: str, run: str) -> dict:
    return json.loads((SWEEPS / sweep / f"{run}.json").read_text())


def cell_value(cell: str) -> str:
    return cell.replace("*", "").strip()


def printed(value: float, like: str) -> str:
    """`value` with as many decimals as the README's cell `like` shows."""
    decimals = len(like.split(".")[1]) if "." in like else 0
    return f"{value:.{decimals}f}"


def check_row(header: list[str], cells: list[str], figures: dict, where: str) -> int:
    checked = 0
    for name, cell in zip(header, cells):
        if name not in COLUMNS or not cell_value(cell):
            continue
        got = cell_value(cell)
        assert got == printed(figures[COLUMNS[name]], got), f"{where}, {name}: README {got}, summary {figures[COLUMNS[name]]}"
        checked += 1
    return checked


def test_the_beta_sweep_table_is_its_bundled_summary():
    plan = json.loads((SWEEPS / "shapes-beta" / "sweep.json").read_text())
    header, rows = table_after(README.read_text(), "| beta | ELBO |")
    by_beta = {r[0]: r for r in rows}
    assert sorted(by_beta, key=float) == [f"{v:g}" for v in plan["values"]]
    for value, run in zip(plan["values"], plan["runs"]):
        assert check_row(header, by_beta[f"{value:g}"], summary("shapes-beta", run), f"beta {value:g}") == 11


def test_the_objectives_table_is_its_bundled_summary():
    plan = json.loads((SWEEPS / "shapes-objectives" / "sweep.json").read_text())
    header, rows = table_after(README.read_text(), "| model (sweep value) |")
    ours = {}
    for cells in rows:
        m = re.search(r"\(`([^`]+)`\)", cells[0])
        if m:
            ours[m.group(1)] = cells
    assert sorted(ours) == sorted(plan["values"])
    for value, run in zip(plan["values"], plan["runs"]):
        assert check_row(header, ours[value], summary("shapes-objectives", run), value) == 10
    # the published row names its source and gives ranges, not our figures
    [published] = [c for c in rows if c[0].startswith("Locatello")]
    assert all(not c or c.startswith("~") for c in published[1:])


def test_the_shapes_beta_figures_in_assets_readme_are_the_sweeps_beta_8_point():
    text = (REPO / "assets" / "README.md").read_text()
    figures = summary("shapes-beta", "beta-8")
    m = re.search(r"MIG ([\d.]+), DCI disentanglement ([\d.]+), completeness ([\d.]+),\s+informativeness ([\d.]+) "
                  r"\(100 trees, the published protocol", text)
    assert m, "assets/README.md's shapes-beta figures moved"
    for got, key in zip(m.groups(), ("mig", "dci_disentanglement", "dci_completeness", "dci_informativeness")):
        assert got == printed(figures[key], got), key
    m = re.search(r"SAP (\d\.\d+), FactorVAE\s+score (\d\.\d+)", text)
    assert m and m.group(1) == printed(figures["sap"], m.group(1)) and m.group(2) == printed(figures["factorvae_score"], m.group(2))


@pytest.mark.parametrize("bad, cell", [(0.1848, "0.19"), (-47.67, "-47.68")])
def test_a_misprinted_figure_is_caught(bad, cell):
    with pytest.raises(AssertionError, match="README"):
        check_row(["SAP"], [cell], {"sap": bad}, "row")
