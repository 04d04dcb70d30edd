"""`pmm demo` end to end at its smallest: phantom → `pmm prepare` on all four sites → one epoch of
training → evaluation of every site → the table, the MLflow run and the UI command."""
from __future__ import annotations

import shutil
from pathlib import Path

from conftest import run_pmm


def test_demo_runs_end_to_end(prepared_phantom: Path, tmp_path: Path) -> None:
    """The phantom and its preparation are the session's (built by the demo's own code); the demo
    takes them over as it takes over its own earlier run, then trains, evaluates and reports."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    shutil.copytree(prepared_phantom, tmp_path / "demo")
    result = run_pmm("demo", "--out", str(tmp_path / "demo"), "--cases-per-site", "3", "--epochs", "1",
                     "--tracking-uri", uri, "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "reusing the prepared phantom federation" in result.stdout
    assert "BraTS   T1,T2,FLAIR->T1C" in result.stdout and "baseline: linear LS" in result.stdout
    assert "pmm beats every linear baseline on" in result.stdout
    assert "MLflow run" in result.stdout and f"pmm ui --tracking-uri {uri}" in result.stdout
    assert (tmp_path / "demo" / "run" / "best.pt").is_file()
    assert (tmp_path / "demo" / "evaluation" / "BraTS_test.csv").is_file()
