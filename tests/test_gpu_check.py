"""bench/gpu_check runs every stage at toy sizes on the CPU, without MLflow or Flower (the GPU
machine has neither): the command a GPU session gets one try at must already work here."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _blocked(folder: Path, *packages: str) -> Path:
    """A PYTHONPATH entry where importing any of `packages` fails, as on a machine without them."""
    for name in packages:
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(f"raise ImportError('{name} is not installed on the GPU machine')\n")
    return folder


def test_every_stage_runs_at_toy_size_without_mlflow_or_flower(prepared_phantom: Path, tmp_path: Path) -> None:
    blocker = _blocked(tmp_path / "blocked", "mlflow", "flwr")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    out = tmp_path / "out"
    # the session's phantom, as a finished earlier build of the same settings (built by the same code)
    shutil.copytree(prepared_phantom, tmp_path / "work" / "phantom")
    done = subprocess.run([str(ROOT / "bench" / "gpu_check"), "--tiny", "--work", str(tmp_path / "work"),
                           "--patients", "1"], cwd=ROOT, env={**env, "OUT": str(out)}, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    results = json.loads((out / "gpu_check" / "gpu_check.json").read_text())
    stages = results["stages"]
    assert list(stages) == ["environment", "phantom", "precision", "mcbs", "torchrun", "train", "synthesize"]
    assert all(stage["ok"] for stage in stages.values())
    assert stages["phantom"]["reused"] and {s["site"] for s in stages["phantom"]["sites"]} == {"TTG", "TTI", "BraTS", "ISLES"}
    assert [r["precision"] for r in stages["precision"]["rows"]] == ["float32", "bfloat16", "bfloat16"]
    assert stages["torchrun"]["backend"] == "gloo" and stages["torchrun"]["world_size"] == 1
    train = stages["train"]
    assert train["steps"] >= 2 and train["quality"]["brain_psnr"] > 0 and train["quality"]["lesion_psnr"] > 0
    assert {"match", "linear"} <= {row["method"] for row in train["rows"]}  # the linear baselines beside pmm
    assert stages["synthesize"]["patients"] == 1
    markdown = (out / "gpu_check" / "gpu_check.md").read_text()
    assert "## train" in markdown and "lesion PSNR" in markdown and "failed" not in markdown
