"""`pmm demo` end to end at its smallest: phantom → `pmm prepare` on all four sites → one epoch of
training → evaluation of every site → the table, the MLflow run and the UI command."""
from __future__ import annotations

from pathlib import Path

from conftest import run_pmm


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_pmm("demo", "--out", str(tmp_path / "demo"), "--cases-per-site", "3", "--epochs", "1",
                     "--tracking-uri", uri, "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for site in ("TTG", "TTI", "BraTS", "ISLES"):
        assert f"    {site}: 3 cases" in result.stdout  # every phantom site prepared
    assert "BraTS   T1,T2,FLAIR->T1C" in result.stdout and "baseline: linear LS" in result.stdout
    assert "pmm beats every linear baseline on" in result.stdout
    assert "MLflow run" in result.stdout and f"pmm ui --tracking-uri {uri}" in result.stdout
    assert (tmp_path / "demo" / "run" / "best.pt").is_file()
    assert (tmp_path / "demo" / "evaluation" / "BraTS_test.csv").is_file()
