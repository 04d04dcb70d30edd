"""The centralized trainer end to end on prepared test sites: steps, checkpoints, exact resume,
MLflow records, the CLI, and two CPU processes under torchrun (gloo)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pmm.centralized.run_central import ResumePoint, run_central
from pmm.centralized.runs import resolve_checkpoint
from pmm.centralized.trainer import RunSettings
from pmm.inference.model_loading import load_trained_model
from pmm_core.config.training import options_with_overrides
from pmm_core.data.site_caches import site_cache_dirs
from pmm.tracking import TrackingSettings
from conftest import mlflow_store, run_pmm, tiny_training_config
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.training.checkpoint import load_checkpoint



@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "train.toml"
    path.write_text(tiny_training_config(2))
    return path


def _site_env(prepared_sites: Path) -> dict[str, str]:
    return {"PMM_SITES_DIR": str(prepared_sites.parent / "sites"), "PMM_CACHE_DIR": str(prepared_sites)}


def _train(prepared_sites: Path, config: Path, tmp_path: Path, run: str, max_steps=None, resume=None, epochs=None,
           store: str = "mlflow.db"):
    with pytest.MonkeyPatch.context() as patch:  # site lookup by name, without leaking into later tests
        for key, value in _site_env(prepared_sites).items():
            patch.setenv(key, value)
        _run(prepared_sites, config, tmp_path, run, max_steps, resume, epochs, store)
    return load_checkpoint(tmp_path / run / "last.pt")


def _run(prepared_sites: Path, config: Path, tmp_path: Path, run: str, max_steps, resume, epochs, store) -> None:
    """What `pmm train-central` hands the library: typed options, site folders, run and tracking settings."""
    point = ResumePoint.load(resolve_checkpoint(resume), epochs) if resume else None
    if point is not None:
        options, site_dirs, run_dir = point.options, point.site_dirs, point.path.parent
    else:
        options = options_with_overrides(config, epochs)
        site_dirs, run_dir = site_cache_dirs(["brats", "isles"], prepared_sites), tmp_path / run
    run_central(options, site_dirs, RunSettings(run_dir=run_dir, max_steps=max_steps, checkpoint_every=0, progress=False),
                TrackingSettings(experiment="test", tracking_uri=mlflow_store(tmp_path / store)), resume=point,
                echo=lambda _: None)


def test_resume_continues_at_the_same_step_with_identical_state(prepared_sites: Path, config: Path, tmp_path: Path) -> None:
    straight = _train(prepared_sites, config, tmp_path, "straight", max_steps=9)
    first = _train(prepared_sites, config, tmp_path, "killed", max_steps=4)
    assert first["global_step"] == 4 and first["step_in_epoch"] == 4
    resumed = _train(prepared_sites, config, tmp_path, "killed", max_steps=9, resume=str(tmp_path / "killed"))
    assert resumed["global_step"] == straight["global_step"] == 9
    assert (resumed["epoch"], resumed["step_in_epoch"]) == (straight["epoch"], straight["step_in_epoch"])
    for key, value in straight["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    assert resumed["rng"]["conditions"] == straight["rng"]["conditions"]
    assert resumed["mlflow_run_id"] == first["mlflow_run_id"]  # the same MLflow run goes on
    # more epochs keep the decay where the run put it (a quarter of 2 epochs: 0), not a quarter of 16
    assert ResumePoint.load(tmp_path / "killed" / "last.pt", epochs=16).options.decay_start == 0


def test_full_run_logs_to_mlflow_and_the_model_loads_back(prepared_sites: Path, config: Path, tmp_path: Path) -> None:
    import mlflow

    checkpoint = _train(prepared_sites, config, tmp_path, "full", epochs=1)
    assert checkpoint["epoch"] == 1 and checkpoint["step_in_epoch"] == 0
    assert (tmp_path / "full" / "best.pt").is_file()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["test"])
    assert len(runs) == 1 and runs["status"][0] == "FINISHED"
    assert runs["tags.pmm.sites"][0] == "BraTS,ISLES" and runs["params.model.base_channels"][0] == "8"
    assert runs["metrics.val/BraTS/T1_to_T1C/psnr"][0] > 5
    assert "metrics.val/ISLES/FLAIR_DWI_to_ADC/ssim" in runs.columns
    assert "metrics.val/mean_ssim" in runs.columns  # the same validation as every federated site
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(runs["run_id"][0])}
    assert {"checkpoints", "fingerprints", "validation"} <= artifacts
    assert "model" not in artifacts  # the package, not a pickled MLflow model (tests/test_package.py)
    package = mlflow.MlflowClient().download_artifacts(runs["run_id"][0], "package/full.pmm", str(tmp_path / "dl"))
    assert type(load_trained_model(Path(package), torch.device("cpu")).model).__name__ == "PMMSynth"
    # one epoch: a quarter of it is 0 epochs at the full rate, then linearly to 0 over the epoch's steps
    steps = checkpoint["global_step"]
    logged = mlflow.MlflowClient().get_metric_history(runs["run_id"][0], "train/lr")
    assert logged, "train/lr was not logged"
    for point in logged:  # logged after step `point.step`, which trained at the rate of step - 1
        assert point.value == pytest.approx(2e-4 * (1 - (point.step - 1) / steps)), point.step


def test_cli_trains_and_reports(prepared_sites: Path, config: Path, tmp_path: Path) -> None:
    result = run_pmm("train-central", "--sites", "gen,brats", "--config", str(config), "--max-steps", "3",
                     "--run-dir", str(tmp_path / "cli"), "--tracking-uri", mlflow_store(tmp_path / "m.db"), "--quiet",
                     env=_site_env(prepared_sites))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "stopped at step 3" in result.stdout and (tmp_path / "cli" / "last.pt").is_file()
    resumed = run_pmm("train-central", "--resume", str(tmp_path / "cli"), "--max-steps", "5",
                      "--tracking-uri", mlflow_store(tmp_path / "m.db"), "--quiet", env=_site_env(prepared_sites))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed at epoch 1, step 3" in resumed.stdout and "stopped at step 5" in resumed.stdout
    too_short = run_pmm("train-central", "--resume", str(tmp_path / "cli"), "--epochs", "0", "--quiet")
    assert too_short.returncode == 2 and "--epochs" in too_short.stderr
    late = tmp_path / "late.toml"
    late.write_text(config.read_text().replace("epochs = 2", "epochs = 8\ndecay_start_epoch = 6"))
    mismatch = run_pmm("train-central", "--sites", "brats", "--config", str(late), "--epochs", "4", "--quiet",
                       env=_site_env(prepared_sites))
    assert mismatch.returncode == 2 and "Traceback" not in mismatch.stderr, mismatch.stderr[-2000:]
    assert f"{late} with the command line's options: decay_start_epoch (6) is after the last epoch (4)" in mismatch.stderr


def test_unprepared_site_and_missing_checkpoint_are_one_line(prepared_sites: Path, tmp_path: Path) -> None:
    result = run_pmm("train-central", "--sites", "nosuchsite", env=_site_env(prepared_sites))
    assert result.returncode == 2 and "site 'nosuchsite' not found" in result.stderr and "Traceback" not in result.stderr
    result = run_pmm("train-central", "--resume", str(tmp_path / "nothing"))
    assert result.returncode == 2 and "no checkpoint there" in result.stderr


def test_two_processes_with_torchrun_on_gloo(prepared_sites: Path, config: Path, tmp_path: Path) -> None:
    torchrun = Path(sys.executable).parent / "torchrun"
    command = [str(torchrun), "--nproc_per_node", "2", "--master_port", "29517", "-m", "pmm", "train-central",
               "--sites", "brats,isles", "--config", str(config), "--max-steps", "3", "--run-dir", str(tmp_path / "ddp"),
               "--tracking-uri", mlflow_store(tmp_path / "ddp.db"), "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, OMP_NUM_THREADS="1", **_site_env(prepared_sites)))
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = load_checkpoint(tmp_path / "ddp" / "last.pt")
    assert checkpoint["world_size"] == 2 and checkpoint["global_step"] == 3
    assert len(checkpoint["rng"]["conditions"]) == 2
    alone = run_pmm("train-central", "--resume", str(tmp_path / "ddp"), "--max-steps", "4", "--quiet",
                    "--tracking-uri", mlflow_store(tmp_path / "ddp.db"), env=_site_env(prepared_sites))
    assert alone.returncode == 2 and "Traceback" not in alone.stderr, alone.stderr[-2000:]
    assert "trained with 2 process(es) and is resumed with 1; resume it with the same number" in alone.stderr


def test_resume_against_another_store_starts_a_new_run(prepared_sites: Path, config: Path, tmp_path: Path) -> None:
    first = _train(prepared_sites, config, tmp_path, "moved", max_steps=2)
    resumed = _train(prepared_sites, config, tmp_path, "moved", max_steps=3, resume=str(tmp_path / "moved"),
                     store="elsewhere.db")  # a store that never saw the first run
    assert resumed["global_step"] == 3 and resumed["mlflow_run_id"] != first["mlflow_run_id"]


def test_resume_refuses_a_site_whose_intensity_scale_changed(prepared_sites: Path, config: Path, tmp_path: Path) -> None:
    from pmm_core.data.records import SiteRecord
    from pmm_core.errors import PmmError
    from pmm_core.training.checkpoint import save_checkpoint

    _train(prepared_sites, config, tmp_path, "scaled", max_steps=1)
    path = tmp_path / "scaled" / "last.pt"
    checkpoint = load_checkpoint(path)
    record = SiteRecord.model_validate(checkpoint["sites"][0])  # as if the run had started in the other scheme
    then = record.intensity.model_copy(update={"scheme": "percentile"})
    checkpoint["sites"][0] = record.model_copy(update={"intensity": then}).model_dump()
    save_checkpoint(checkpoint, path)
    with pytest.raises(PmmError, match=r"intensity standardization changed since the run started \(percentile then, tissue now"):
        ResumePoint.load(path)


def test_a_run_that_fails_mid_training_ends_failed_with_its_error(prepared_sites: Path, tmp_path: Path) -> None:
    """A val case whose cached image is damaged: the first validation fails, and the MLflow run
    ends FAILED with the error's line instead of staying RUNNING for ever."""
    import mlflow
    from conftest import tiny_training_options

    cache = tmp_path / "cache"
    shutil.copytree(prepared_sites, cache)
    val_case = load_fingerprint(cache / "GEN").split["val"][0]
    (cache / "GEN" / "cases" / val_case / "image.npy").write_bytes(b"not an array")
    uri = mlflow_store(tmp_path / "mlflow.db")
    with pytest.raises(ValueError):
        run_central(tiny_training_options(1), [cache / "GEN"], RunSettings(run_dir=tmp_path / "run", progress=False),
                    TrackingSettings(experiment="broken", tracking_uri=uri), echo=lambda _: None)
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["broken"])
    assert list(runs["status"]) == ["FAILED"] and runs["tags.pmm.error"].iloc[0].startswith("ValueError: ")
