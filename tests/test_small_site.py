"""A site too small to split (two cases: both train) says so instead of failing obscurely, and
grows into a usable one when cases are added."""
from __future__ import annotations

import shutil
from pathlib import Path

from pmm.centralized.run_central import run_central
from pmm.centralized.trainer import RunSettings
from conftest import mlflow_store, run_pmm, tiny_training_options, write_generic_site
from pmm_core.config.site import load_site
from pmm_core.data.prepare_site import prepare_site
from pmm_core.training.checkpoint import load_checkpoint
from pmm.tracking import TrackingSettings


def test_a_two_case_site_trains_says_why_nothing_validates_and_refuses_an_empty_test_split(tmp_path: Path) -> None:
    toml = write_generic_site(tmp_path, cases=2)
    cache = tmp_path / "cache"
    assert prepare_site(load_site(toml), cache, progress=False, log=lambda _: None).fingerprint.split["train"] == \
        ["case00", "case01"]
    said: list[str] = []
    run_central(tiny_training_options(1), [cache / "GEN"], RunSettings(run_dir=tmp_path / "run", progress=False),
                TrackingSettings(experiment="small", tracking_uri=mlflow_store(tmp_path / "mlflow.db")),
                echo=said.append)
    (summary,) = [line for line in said if line.startswith("finished after")]
    assert "no val case could be scored" in summary and "best.pt is the last epoch's model" in summary
    assert load_checkpoint(tmp_path / "run" / "best.pt")["best_by"] == "last epoch (nothing to validate)"
    env = {"PMM_SITES_DIR": str(toml.parent), "PMM_CACHE_DIR": str(cache)}
    result = run_pmm("evaluate", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--site", "gen",
                     "--tracking-uri", mlflow_store(tmp_path / "mlflow.db"), env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "site GEN's test split is empty (2 cases: train 2, val 0, test 0)" in result.stderr

    data = tmp_path / "data" / "GEN"   # a third case arrives: it fills the empty test split, nothing moves
    shutil.copytree(data / "case00", data / "case02")
    for path in (data / "case02").iterdir():
        path.rename(path.with_name(path.name.replace("case00", "case02")))
    split = prepare_site(load_site(toml), cache, progress=False, log=lambda _: None).fingerprint.split
    assert split == {"train": ["case00", "case01"], "val": [], "test": ["case02"]}
