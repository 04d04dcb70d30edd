"""`pmm evaluate`, `pmm synthesize` and `pmm ui` against a checkpoint trained in this module."""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from pmm.centralized.run_central import run_central
from pmm.centralized.trainer import RunSettings
from conftest import PMM, mlflow_store, run_pmm, tiny_training_options
from pmm_core.data.fingerprint import load_fingerprint, write_fingerprint
from pmm.tracking import TrackingSettings
from synthetic import write_modality



@pytest.fixture(scope="module")
def trained(prepared_sites: Path, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("trained")
    env = {"PMM_SITES_DIR": str(prepared_sites.parent / "sites"), "PMM_CACHE_DIR": str(prepared_sites)}
    uri = mlflow_store(folder / "mlflow.db")
    run_central(tiny_training_options(1), [prepared_sites / "GEN", prepared_sites / "BraTS"],
                RunSettings(run_dir=folder / "run", checkpoint_every=0, progress=False),
                TrackingSettings(experiment="test", tracking_uri=uri), echo=lambda _: None)
    return {"checkpoint": folder / "run" / "best.pt", "uri": uri, "env": env, "folder": folder,
            "data": prepared_sites.parent / "data"}


def test_evaluate_prints_the_table_and_logs_metrics(trained: dict) -> None:
    import mlflow

    result = run_pmm("evaluate", "--checkpoint", str(trained["checkpoint"]), "--site", "brats", "--split", "test",
                     "--out", str(trained["folder"] / "eval"), "--tracking-uri", trained["uri"], "--experiment", "test",
                     env=trained["env"])
    assert result.returncode == 0, result.stderr[-2000:]
    for text in ("T1->T1C", "T1,T2,FLAIR->T1C", "baseline: source matched", "baseline: linear LS", "±"):
        assert text in result.stdout
    rows = json.loads((trained["folder"] / "eval" / "BraTS_test.json").read_text())
    assert {r["method"] for r in rows} == {"pmm", "match", "linear", "oracle"} and all(r["cases"] == 1 for r in rows)
    assert {r["protocol"] for r in rows} == {"model", "common", "brasyn"} and {r["scheme"] for r in rows} == {"tissue"}
    brasyn = [r for r in rows if r["protocol"] == "brasyn"]
    assert brasyn and all(0 < r["ssim_lesion_mean"] <= 1 for r in brasyn)  # BraTS has tumour labels
    # inside the lesion, in every row set: PSNR, SSIM and the contrast ratio
    assert all(r["psnr_lesion_mean"] > 0 and r["lesion_cases"] == 1 for r in rows)
    assert any(r["contrast_mean"] is not None for r in rows)
    assert "lesion PSNR" in result.stdout and "contrast" in result.stdout
    assert "oracle" not in {r["method"] for r in brasyn} and "BraSyn protocol" in result.stdout
    assert (trained["folder"] / "eval" / "BraTS_test.csv").read_text().startswith("site,task,method")
    mlflow.set_tracking_uri(trained["uri"])
    runs = mlflow.search_runs(experiment_names=["test"], filter_string="tags.`pmm.mode` = 'evaluate'")
    assert len(runs) >= 1
    assert runs["metrics.test/BraTS/T1_T2_to_FLAIR/psnr"].iloc[0] > 5
    assert "metrics.test/BraTS/T1_T2_to_FLAIR/ssim/linear" in runs.columns
    assert runs["metrics.test/BraTS/T1_T2_to_FLAIR/brasyn/ssim_lesion"].iloc[0] > 0
    assert runs["metrics.test/BraTS/T1_T2_to_FLAIR/psnr_lesion"].iloc[0] > 0


def test_evaluate_explicit_task_and_impossible_task(trained: dict) -> None:
    ok = run_pmm("evaluate", "--checkpoint", str(trained["checkpoint"]), "--site", "gen", "--task", "T2->T1",
                 "--tracking-uri", trained["uri"], "--out", str(trained["folder"] / "eval2"), env=trained["env"])
    assert ok.returncode == 0 and "T2->T1" in ok.stdout
    bad = run_pmm("evaluate", "--checkpoint", str(trained["checkpoint"]), "--site", "gen", "--task", "DWI->ADC",
                  "--tracking-uri", trained["uri"], env=trained["env"])
    assert bad.returncode == 2 and "has the modalities of DWI->ADC" in bad.stderr and "Traceback" not in bad.stderr


def test_a_checkpoint_is_not_scored_on_cases_it_trained_on(trained: dict, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(Path(trained["env"]["PMM_CACHE_DIR"]), cache)
    fingerprint = load_fingerprint(cache / "GEN")
    moved = fingerprint.split["train"][0]
    changed = {"train": fingerprint.split["test"], "val": fingerprint.split["val"], "test": [moved]}
    write_fingerprint(cache / "GEN", fingerprint.model_copy(update={"split": changed}))
    result = run_pmm("evaluate", "--checkpoint", str(trained["checkpoint"]), "--site", "gen",
                     "--tracking-uri", trained["uri"], env=trained["env"] | {"PMM_CACHE_DIR": str(cache)})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"1 of site GEN's test cases were in its training split ({moved})" in result.stderr


def test_the_checkpoint_records_its_split(trained: dict) -> None:
    import torch

    saved = torch.load(trained["checkpoint"], map_location="cpu", weights_only=False)
    gen = next(s for s in saved["sites"] if s["name"] == "GEN")
    assert gen["split"] == load_fingerprint(Path(trained["env"]["PMM_CACHE_DIR"]) / "GEN").split
    assert len(gen["split_sha256"]) == 64


def _case_files(trained: dict) -> tuple[Path, Path]:
    case = trained["data"] / "GEN" / "case00"
    return case / "case00_T1.nii.gz", case / "case00_T2.nii.gz"


def test_synthesize_writes_the_target_in_the_inputs_space(trained: dict, tmp_path: Path) -> None:
    t1, t2 = _case_files(trained)
    out = tmp_path / "out" / "flair.nii.gz"
    result = run_pmm("synthesize", "--checkpoint", str(trained["checkpoint"]), "--site", "gen", "--input", f"T1={t1}",
                     "--input", f"T2={t2}", "--target", "FLAIR", "--out", str(out), env=trained["env"])
    assert result.returncode == 0, result.stderr[-2000:]
    written, reference = nib.load(str(out)), nib.load(str(t1))
    assert written.shape == reference.shape and np.allclose(written.affine, reference.affine)
    assert written.get_data_dtype() == np.float32 and b"pmm FLAIR from T1+T2" in bytes(written.header["descrip"])
    data = written.get_fdata()
    assert data[0, 0, 0] == 0 and (data > 0).mean() > 0.1  # brain-masked
    assert not list(out.parent.glob(".tmp-*"))
    assert bytes(written.header["descrip"]).startswith(b"SYNTHETIC")
    sidecar = json.loads((out.parent / "flair.json").read_text())
    assert sidecar["Synthetic"] is True and sidecar["Modality"] == "FLAIR" and sidecar["SourceModalities"] == ["T1", "T2"]
    assert len(sidecar["CheckpointSHA256"]) == 64 and sidecar["Site"] == "GEN"
    assert sidecar["IntensityScale"].startswith("scanner units")

    # --range unit keeps the model's [0, 1]; the default is its inverse through the site's learned scale
    unit_out = tmp_path / "out" / "flair_unit.nii.gz"
    unit = run_pmm("synthesize", "--checkpoint", str(trained["checkpoint"]), "--site", "gen", "--input", f"T1={t1}",
                   "--input", f"T2={t2}", "--target", "FLAIR", "--out", str(unit_out), "--range", "unit",
                   env=trained["env"])
    assert unit.returncode == 0, unit.stderr[-2000:]
    unit_data = nib.load(str(unit_out)).get_fdata()
    assert 0 <= unit_data.min() and unit_data.max() <= 1
    fingerprint = json.loads((Path(trained["env"]["PMM_CACHE_DIR"]) / "GEN" / "fingerprint.json").read_text())
    flair = fingerprint["intensity"]["modalities"]["FLAIR"]
    assert fingerprint["intensity"]["scheme"] == "tissue"
    assert np.allclose(data, unit_data * flair["upper"] * flair["typical"]["anchor"], rtol=1e-4, atol=1e-3)
    assert json.loads((out.parent / "flair_unit.json").read_text())["IntensityScale"].startswith("model [0, 1]")


def test_a_target_the_site_never_acquired_is_written_in_the_models_scale(trained: dict, tmp_path: Path) -> None:
    """GEN has no T1C; the model learned T1C from BraTS. Without a scanner scale for GEN's T1C the
    command says what to do, and with --range unit it writes the synthesis, labelled so."""
    t1, t2 = _case_files(trained)
    common = ["synthesize", "--checkpoint", str(trained["checkpoint"]), "--site", "gen", "--input", f"T1={t1}",
              "--input", f"T2={t2}", "--target", "T1C"]
    refused = run_pmm(*common, "--out", str(tmp_path / "t1c.nii.gz"), env=trained["env"])
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "site GEN never acquired T1C" in refused.stderr and "add --range unit" in refused.stderr
    assert "run `pmm prepare`" not in refused.stderr          # no re-run of prepare could help
    written = run_pmm(*common, "--out", str(tmp_path / "t1c.nii.gz"), "--range", "unit", env=trained["env"])
    assert written.returncode == 0, written.stderr[-2000:]
    sidecar = json.loads((tmp_path / "t1c.json").read_text())
    assert sidecar["Synthetic"] is True and sidecar["IntensityScale"].startswith("model [0, 1]")


def test_cohort_synthesis_fills_every_case_once_and_skips_a_bad_one(trained: dict, tmp_path: Path) -> None:
    cohort = tmp_path / "cohort"
    shutil.copytree(trained["data"] / "GEN", cohort)
    for case in ("case00", "case02"):  # make three cases that lack FLAIR (case01 never had it)
        (cohort / case / f"{case}_FLAIR.nii.gz").unlink()
    bad = cohort / "case02" / "case02_T2.nii.gz"
    bad.write_bytes(bad.read_bytes()[:200])
    out = tmp_path / "filled"
    args = ("synthesize", "--checkpoint", str(trained["checkpoint"]), "--site", "gen", "--cohort", str(cohort),
            "--target", "FLAIR", "--out", str(out), "--quiet")
    first = run_pmm(*args, env=trained["env"])
    assert first.returncode == 1 and "2 written, 0 already finished" in first.stdout and "1 failed" in first.stdout
    assert f"failed case02: {bad}: corrupt or unreadable NIfTI" in first.stdout and "Traceback" not in first.stderr
    written = out / "case00" / "case00_FLAIR_synthetic.nii.gz"
    reference = nib.load(str(cohort / "case00" / "case00_T1.nii.gz"))
    assert nib.load(str(written)).shape == reference.shape and np.allclose(nib.load(str(written)).affine, reference.affine)
    assert json.loads((out / "case00" / "case00_FLAIR_synthetic.json").read_text())["Synthetic"] is True
    mtime = written.stat().st_mtime_ns
    shutil.copy(trained["data"] / "GEN" / "case02" / "case02_T2.nii.gz", bad)  # repaired: only it is done now
    second = run_pmm(*args, env=trained["env"])
    assert second.returncode == 0 and "1 written, 2 already finished" in second.stdout, second.stdout + second.stderr
    assert written.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("arguments,message", [
    (["--input", "PD={t1}", "--target", "FLAIR"], "unknown modality 'PD'"),
    (["--input", "T1={t1}", "--target", "T1"], "--target T1 is also an --input"),
    (["--input", "T1={t1}", "--target", "FLAIR", "--site", "isles"], "was not trained on site ISLES"),
    (["--input", "T1=/nonexistent/t1.nii.gz", "--target", "FLAIR"], "/nonexistent/t1.nii.gz: input file (or DICOM series folder) not found"),
])
def test_synthesize_bad_inputs_are_one_line(trained: dict, tmp_path: Path, arguments: list[str], message: str) -> None:
    t1, _ = _case_files(trained)
    arguments = [a.format(t1=t1) for a in arguments]
    site = [] if "--site" in arguments else ["--site", "gen"]
    out = tmp_path / "x.nii.gz"
    result = run_pmm("synthesize", "--checkpoint", str(trained["checkpoint"]), *site, *arguments, "--out", str(out),
                     env=trained["env"])
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_synthesize_refuses_inputs_that_cannot_be_aligned(trained: dict, tmp_path: Path) -> None:
    t1, _ = _case_files(trained)
    far = write_modality(tmp_path / "far_T2.nii.gz", "T2", rotation_deg=(0, 0, 0))
    image = nib.load(str(far))
    affine = image.affine.copy()
    affine[:3, 3] += 400.0  # another place in space: no overlap with the T1 at all
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), affine), str(far))
    out = tmp_path / "y.nii.gz"
    result = run_pmm("synthesize", "--checkpoint", str(trained["checkpoint"]), "--site", "gen", "--input", f"T1={t1}",
                     "--input", f"T2={far}", "--target", "FLAIR", "--out", str(out), env=trained["env"])
    assert result.returncode == 2 and "cannot be aligned" in result.stderr and not out.exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ui_serves_its_page_and_stops_cleanly(trained: dict) -> None:
    port = _free_port()
    process = subprocess.Popen([PMM, "ui", "--port", str(port), "--tracking-uri", trained["uri"]],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.time() + 60, None
        while time.time() < deadline and page is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    page = response.read().decode()
            except OSError:
                time.sleep(0.5)
        assert page is not None and "mlflow" in page.lower()
        busy = run_pmm("ui", "--port", str(port), "--tracking-uri", trained["uri"])
        assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code in (0, -signal.SIGTERM, 128 + signal.SIGTERM)


def test_checkpoints_of_the_wrong_kind_or_version_are_one_line(trained: dict, tmp_path: Path) -> None:
    """A checkpoint whose options another pmm version wrote, a model without training state given
    to --resume, a run's checkpoint given as a federation's global model: one line each."""
    import torch

    saved = torch.load(trained["checkpoint"], map_location="cpu", weights_only=False)
    older = tmp_path / "older.pt"
    torch.save(saved | {"config": saved["config"] | {"renamed_option": 1}}, older)
    model_only = tmp_path / "run" / "model.pt"        # what a federated site's model.pt holds
    model_only.parent.mkdir()
    torch.save({k: saved[k] for k in ("model", "config", "sites")}, model_only)
    for args, message in (
            (["evaluate", "--checkpoint", str(older), "--site", "gen"], "(written by another version of pmm?)"),
            (["train-central", "--resume", str(model_only)],
             "not a training checkpoint (a run's last.pt or best.pt) (no optimizer_generator, global_step, rng inside)"),
            (["client", "--site", "gen", "--personalize-only", "--global-model", str(trained["checkpoint"]),
              "--state-dir", str(tmp_path / "state")], "give the federation's global.pt")):
        result = run_pmm(*args, env=trained["env"])
        assert result.returncode == 2 and "Traceback" not in result.stderr, (args, result.stderr[-2000:])
        assert message in result.stderr, result.stderr
