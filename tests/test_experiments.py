"""`pmm experiment`: settings per experiment, the paper's claims on given numbers, the results
document. (A whole experiment trains several models: `pmm experiment tables --quick` runs it.)"""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_pmm
from experiments.report import update_doc
from experiments.settings import experiment_names, load_settings
from experiments.tables import claims, task_pairs
from pmm_core.errors import PmmError


def test_every_experiment_has_a_quick_setting_smaller_than_the_full_one() -> None:
    assert {"tables", "mcbs"} <= set(experiment_names())
    for name in experiment_names():
        full, quick = load_settings(name, quick=False), load_settings(name, quick=True)
        assert quick.cases_per_site <= full.cases_per_site and quick.epochs < full.epochs
        assert quick.model["base_channels"] < full.model["base_channels"]
        assert "[model]" in quick.training_toml() and f"epochs = {quick.epochs}" in quick.training_toml()


def test_unknown_experiment_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(PmmError, match="unknown experiment 'table'"):
        load_settings("table", quick=True)
    result = run_pmm("experiment", "table", "--quick", "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "unknown experiment 'table'; choose from" in result.stderr
    assert not any(tmp_path.iterdir())  # nothing written


def test_task_pairs_are_the_papers_one_to_one_and_many_to_one() -> None:
    assert set(task_pairs("TTG")) == {("T1->T1C", "T1,T2,FLAIR->T1C"), ("T2->FLAIR", "T1,T2->FLAIR")}
    assert set(task_pairs("ISLES")) == {("FLAIR->DWI", "FLAIR,ADC->DWI"), ("FLAIR->ADC", "FLAIR,DWI->ADC")}


def _rows(site: str, values: dict[str, dict[str, float]]) -> list[dict]:
    return [{"site": site, "task": task, "method": method, "psnr_mean": psnr}
            for method, tasks in values.items() for task, psnr in tasks.items()]


def test_claims_are_judged_on_the_numbers() -> None:
    one, many = "FLAIR->DWI", "FLAIR,ADC->DWI"
    rows = _rows("ISLES", {"single": {one: 20.0, many: 21.0}, "multi": {one: 21.0, many: 22.0},
                           "full": {one: 22.0, many: 21.5}, "federated": {one: 20.0, many: 20.5}})
    judged = {c["claim"]: c["holds"] for c in claims(rows)}
    assert judged["full > w/o PFM multi > w/o PFM single (average PSNR)"] is True
    assert judged["federated within 1 dB of centralized (average PSNR)"] is False   # 20.25 vs 21.75
    assert judged[f"{many} beats {one} (full model, PSNR)"] is False


def test_results_document_sections_are_replaced_in_place(tmp_path: Path) -> None:
    doc = tmp_path / "RESULTS.md"
    update_doc(doc, "tables", "## Tables\nfirst")
    update_doc(doc, "mcbs", "## MCBS\nonly")
    update_doc(doc, "tables", "## Tables\nsecond")
    text = doc.read_text()
    assert "second" in text and "first" not in text and text.count("## Tables") == 1
    assert text.index("## Tables") < text.index("## MCBS")
