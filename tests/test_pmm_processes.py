"""The suite's `pmm` commands run forked from a process that imported pmm's dependencies
(pmm_processes): a command must see exactly what a cold `pmm` process sees, or every command-line
test would check something users never run."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import PMM, run_pmm


def test_a_forked_command_answers_as_a_cold_one_with_its_own_folder_environment_and_streams(tmp_path: Path) -> None:
    sites = tmp_path / "my-sites"
    sites.mkdir()
    (tmp_path / "unfinished.toml").write_text('name = "X"\n')
    env = {"PMM_SITES_DIR": str(sites)}
    forked = run_pmm("prepare", "--site", "NOPE", cwd=tmp_path, env=env)
    cold = subprocess.run([PMM, "prepare", "--site", "NOPE"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, **env}, timeout=120)
    assert (forked.returncode, forked.stdout, forked.stderr) == (cold.returncode, cold.stdout, cold.stderr)
    assert forked.returncode == 2 and f"not found in {sites}," in forked.stderr

    here = run_pmm("prepare", "--site", "unfinished.toml", cwd=tmp_path)  # a path relative to its own folder
    assert here.returncode == 2 and "key 'dataset_id': Field required" in here.stderr
    elsewhere = run_pmm("prepare", "--site", "NOPE", cwd=sites)  # the previous command's folder and variable are gone
    assert "unfinished.toml" not in elsewhere.stderr and str(sites) not in elsewhere.stderr
    assert run_pmm("prepare", "--site", "unfinished.toml", cwd=sites).stderr.endswith("site file not found\n")

    helped = run_pmm("--help")
    assert helped.returncode == 0 and "train-central" in helped.stdout and not helped.stderr
