"""BraTS-size data under a default login's limits: 1,500 cached cases train an epoch and are
evaluated in processes allowed 256 file descriptors (a dataset keeps a bounded set of memory
maps open, each of which holds a descriptor; before, every case it had read stayed open)."""
from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path

from bench.synthetic_cache import write_cache
from conftest import PMM, mlflow_store, tiny_training_config
from pmm_core.data.fingerprint import load_fingerprint, write_fingerprint

CASES = 1500
DESCRIPTORS = 256


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))


def _pmm(*args: str, cache: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PMM, *args], cwd=cwd, env={**os.environ, "PMM_CACHE_DIR": str(cache)}, capture_output=True,
                          text=True, timeout=600, preexec_fn=_limited)


def test_1500_cases_train_an_epoch_and_evaluate_under_256_descriptors(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    site_dir = write_cache(cache, size=16, cases=CASES, slices=1, only=("BraTS",))[0]
    fingerprint = load_fingerprint(site_dir)
    ids = sorted(fingerprint.cases)  # every case trains; 30 validate and 30 test, to keep the test short
    write_fingerprint(site_dir, fingerprint.model_copy(update={"split": {"train": ids[60:], "val": ids[:30],
                                                                         "test": ids[30:60]}}))
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_training_config(1).replace("batch_size = 4", "batch_size = 16"))
    uri = mlflow_store(tmp_path / "mlflow.db")
    trained = _pmm("train-central", "--sites", "brats", "--config", str(config), "--run-dir", str(tmp_path / "run"),
                   "--quiet", "--tracking-uri", uri, cache=cache, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert f"finished after step {(CASES - 60) // 16}" in trained.stdout
    scored = _pmm("evaluate", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--site", "brats", "--task",
                  "T1->T2", "--tracking-uri", uri, "--out", str(tmp_path / "eval"), cache=cache, cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert (tmp_path / "eval" / "BraTS_test.json").is_file()
