"""The comparison methods in the shared harness: pix2pix and MM-GAN train, checkpoint, evaluate and
synthesize through pmm's own code; MM-GAN's implicit conditioning and curriculum; pix2pix's one task."""
from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from conftest import mlflow_store, run_pmm, tiny_training_options
from pmm_core.config.methods import MMGANOptions, Pix2PixOptions
from pmm_core.config.toml_loading import toml_text
from pmm_core.errors import PmmError
from pmm_core.methods import method_of
from pmm_core.methods.mmgan import most_missing, scenario_condition
from pmm_core.modalities import MODALITIES, availability_vector
from pmm_core.training.conditions import task_condition
from pmm_core.training.step import build_optimizers, train_step

SIZE = 32
UNET = {"base_channels": 8, "depth": 3, "discriminator_channels": 8, "discriminator_layers": 2}


def _options(method: str, **pix2pix):
    options = tiny_training_options(1)
    return options.model_copy(update={"method": method, "pix2pix": Pix2PixOptions(**UNET, **pix2pix),
                                      "mmgan": MMGANOptions(**UNET)})


def _batch(present: tuple[str, ...], batch: int = 2):
    generator = torch.Generator().manual_seed(0)
    m = torch.tensor([availability_vector(present)] * batch, dtype=torch.float32)
    return torch.rand(batch, 6, SIZE, SIZE, generator=generator) * m[:, :, None, None], m, torch.zeros(batch, dtype=torch.int64)


def test_mmgan_loss_is_zero_on_real_inputs_and_its_discriminator_sees_only_them() -> None:
    options = _options("mmgan")
    method = method_of(options)
    torch.manual_seed(0)
    model = method.build(options)
    image, m, ids = _batch(("T1", "T2", "T1C", "FLAIR"))
    sc = task_condition(["T1", "FLAIR"])
    seen = []
    model.discriminators[0].register_forward_pre_hook(lambda _, args: seen.append(args[1].detach().clone()))
    metrics = train_step(model, build_optimizers(model), image, m, ids, sc, options.losses,
                         objective=method.objective(options))
    assert metrics["loss/rec"] == 0.0 and metrics["loss/syn"] > 0
    inputs = [MODALITIES.index(x) for x in ("T1", "FLAIR")]
    missing = [MODALITIES.index(x) for x in ("DWI", "ADC")]  # the site lacks them: never shown, never scored
    assert len(seen) >= 3  # the generator's adversarial term, then D on real and on synthesized
    for images in seen:
        assert torch.equal(images[:, inputs], image[:, inputs])   # a real input, never its reconstruction
        assert not images[:, missing].any()
    with torch.no_grad():
        out = model.eval()(image, sc, ids)
    assert torch.equal(out[:, inputs], image[:, inputs]) and out.shape == (2, 6, SIZE, SIZE)


def test_mmgan_curriculum_widens_from_one_missing_input_to_all_but_one() -> None:
    assert [most_missing(6, p, 0.5) for p in (0.0, 0.1, 0.2, 0.3, 0.45, 0.5, 0.9)] == [1, 1, 2, 3, 4, 5, 5]
    assert [most_missing(4, p, 0.5) for p in (0.0, 0.3, 0.6)] == [1, 2, 3]
    options = _options("mmgan").model_copy(update={"epochs": 10})
    m = torch.tensor([availability_vector(("T1", "T2", "T1C", "FLAIR"))])
    early = [scenario_condition(m, np.random.default_rng(s), options, 0.0).sc for s in range(40)]
    late = [scenario_condition(m, np.random.default_rng(s), options, 9.0).sc for s in range(200)]
    assert {int(sc.sum()) for sc in early} == {3}                  # one of the four missing
    assert {int(sc.sum()) for sc in late} == {1, 2, 3}             # then every scenario
    assert all(sc[MODALITIES.index("DWI")] == 0 for sc in late)    # never an input the site lacks
    lone = torch.tensor([availability_vector(("FLAIR",))])
    assert scenario_condition(lone, np.random.default_rng(0), options, 9.0).sc.tolist() == lone[0].tolist()


def test_pix2pix_runs_its_one_task_and_refuses_any_other() -> None:
    options = _options("pix2pix", sources=["T1"], target="T1C")
    model = method_of(options).build(options)
    image, m, ids = _batch(("T1", "T2", "T1C", "FLAIR"))
    target = torch.zeros(6)
    target[MODALITIES.index("T1C")] = 1
    with torch.no_grad():
        out = model.eval()(image, task_condition(["T1"]), ids, target)
    assert out[:, MODALITIES.index("T1C")].abs().sum() > 0 and out[:, [0, 1, 3, 4, 5]].abs().sum() == 0
    flair = torch.zeros(6)
    flair[MODALITIES.index("FLAIR")] = 1
    with pytest.raises(PmmError, match="trained for T1->T1C only; it cannot synthesize FLAIR"):
        model(image, task_condition(["T1"]), ids, flair)
    with pytest.raises(PmmError, match="needs exactly the sources T1"):
        model(image, task_condition(["T1", "T2"]), ids, target)
    assert method_of(options).inputs(options, ["T1", "T2", "FLAIR"], "T1C") == ["T1"]


def _peer_config(tmp_path: Path, method: str) -> Path:
    """The tiny sizes as a `--config` TOML (the method itself comes from the command line)."""
    config = tmp_path / f"{method}.toml"
    config.write_text(toml_text(_options(method).model_copy(update={"method": "pmm-synth"})))
    return config


@pytest.fixture(scope="module")
def peers(prepared_sites: Path, tmp_path_factory) -> dict:
    """An MM-GAN model trained by `pmm train-central --method mmgan` and a pix2pix (T1->T1C) one by
    the same options and trainer in this process, both on the test BraTS."""
    from pmm.centralized.run_central import run_central
    from pmm.centralized.trainer import RunSettings
    from pmm_core.config.training import options_with_overrides
    from pmm.tracking import TrackingSettings

    folder = tmp_path_factory.mktemp("peers")
    env = {"PMM_SITES_DIR": str(prepared_sites.parent / "sites"), "PMM_CACHE_DIR": str(prepared_sites)}
    uri = mlflow_store(folder / "mlflow.db")
    result = run_pmm("train-central", "--method", "mmgan", "--config", str(_peer_config(folder, "mmgan")),
                     "--sites", "brats", "--epochs", "1", "--run-dir", str(folder / "mmgan"), "--tracking-uri", uri,
                     "--experiment", "peers", "--quiet", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    options = options_with_overrides(_peer_config(folder, "pix2pix"), epochs=1, method="pix2pix", task=(("T1",), "T1C"))
    run_central(options, [prepared_sites / "BraTS"], RunSettings(run_dir=folder / "pix2pix", checkpoint_every=0,
                                                                 progress=False),
                TrackingSettings(experiment="peers", tracking_uri=uri), echo=lambda _: None)
    return {"runs": {m: folder / m / "best.pt" for m in ("pix2pix", "mmgan")}, "env": env, "folder": folder,
            "cache": prepared_sites, "data": prepared_sites.parent / "data", "uri": uri}


def test_peer_checkpoints_evaluate_and_synthesize_through_the_shared_code(peers: dict) -> None:
    from pmm.inference.model_loading import load_trained_model
    from pmm.inference.synthesize import synthesize
    from pmm_core.config.site import find_site_file, load_site

    env, folder = peers["env"], peers["folder"]
    result = run_pmm("evaluate", "--checkpoint", str(peers["runs"]["pix2pix"]), "--site", "brats", "--out",
                     str(folder / "eval-pix2pix"), "--protocols", "model", "--tracking-uri", peers["uri"], env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads((folder / "eval-pix2pix" / "BraTS_test.json").read_text())
    assert {r["task"] for r in rows if r["method"] == "pmm"} == {"T1->T1C"}    # its one task, nothing else
    assert "pix2pix" in result.stdout and "MLflow run" in result.stdout
    # pix2pix beside MM-GAN (`pmm evaluate --peer`): its one task scored on the same slices, its own table, a
    # column of the montage logged with the run; one row set other than `model` alone (it raised KeyError before)
    result = run_pmm("evaluate", "--checkpoint", str(peers["runs"]["mmgan"]), "--peer", str(peers["runs"]["pix2pix"]),
                     "--site", "brats", "--out", str(folder / "eval-both"), "--protocols", "common", "--tracking-uri",
                     peers["uri"], "--experiment", "compare", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "peer pix2pix" in result.stdout and "MM-GAN" in result.stdout
    peer_rows = json.loads((folder / "eval-both" / "BraTS_test_pix2pix.json").read_text())
    assert {(r["task"], r["method"]) for r in peer_rows} == {("T1->T1C", "pix2pix")}
    own = json.loads((folder / "eval-both" / "BraTS_test.json").read_text())
    assert {r["task"] for r in own if r["method"] == "pmm"} == {"T1->T1C", "T2->FLAIR", "T1,T2->FLAIR", "T1,T2,FLAIR->T1C"}
    assert [r["cases"] for r in own if r["task"] == "T1->T1C" and r["method"] == "pmm"] == [peer_rows[0]["cases"]]
    import mlflow

    mlflow.set_tracking_uri(peers["uri"])
    run = mlflow.search_runs(experiment_names=["compare"]).iloc[0]
    assert run["params.peer.pix2pix"] == str(peers["runs"]["pix2pix"])
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(run["run_id"], "evaluation")}
    assert {"evaluation/BraTS_test_pix2pix.json", "evaluation/BraTS_test.png"} <= logged
    missing = folder / "no-such-peer.pt"   # a peer that is not there: one line, before anything is scored or written
    result = run_pmm("evaluate", "--checkpoint", str(peers["runs"]["pix2pix"]), "--peer", str(missing), "--site", "brats",
                     "--out", str(folder / "eval-none"), "--tracking-uri", peers["uri"], env=env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and str(missing) in result.stderr, result.stderr
    assert not (folder / "eval-none").exists()

    t1 = next((peers["data"] / "BraTS" / "BraTS2021_00001").glob("*_t1.nii.gz"))
    out = folder / "synth" / "t1ce.nii.gz"
    result = run_pmm("synthesize", "--checkpoint", str(peers["runs"]["pix2pix"]), "--site", "brats", "--input",
                     f"T1={t1}", "--target", "T1C", "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    sidecar = json.loads((out.parent / "t1ce.json").read_text())
    assert sidecar["Method"] == "pix2pix" and sidecar["SourceModalities"] == ["T1"]
    assert nib.load(str(out)).shape == nib.load(str(t1)).shape

    site = load_site(find_site_file(str(peers["cache"].parent / "sites" / "brats.toml")))
    mmgan_out = synthesize(load_trained_model(peers["runs"]["mmgan"], torch.device("cpu")), site, {"T1": t1}, "FLAIR",
                           folder / "synth" / "flair.nii.gz")
    assert json.loads((mmgan_out.parent / "flair.json").read_text())["Method"] == "MM-GAN"
    assert np.isfinite(nib.load(str(mmgan_out)).get_fdata()).all()


def test_pix2pix_refuses_another_task_with_one_line(peers: dict) -> None:
    from pmm.inference.evaluate_run import run_evaluation
    from pmm_core.config.training import options_with_overrides
    from pmm_core.tasks import parse_task

    checkpoint, env = peers["runs"]["pix2pix"], peers["env"]
    t1 = next((peers["data"] / "BraTS" / "BraTS2021_00001").glob("*_t1.nii.gz"))
    result = run_pmm("synthesize", "--checkpoint", str(checkpoint), "--site", "brats", "--input", f"T1={t1}",
                     "--target", "FLAIR", "--out", str(peers["folder"] / "no.nii.gz"), env=env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "trained for T1->T1C only; it cannot synthesize FLAIR" in result.stderr
    assert not (peers["folder"] / "no.nii.gz").exists()
    with pytest.raises(PmmError, match="trained for T1->T1C only; it cannot synthesize FLAIR"):
        run_evaluation(checkpoint, Path(env["PMM_CACHE_DIR"]) / "BraTS", [parse_task("T2->FLAIR")], echo=lambda _: None)
    import mlflow

    from pmm.centralized.run_central import run_central
    from pmm.centralized.trainer import RunSettings
    from pmm.tracking import TrackingSettings

    lacking = options_with_overrides(None, method="pix2pix", task=(("T1",), "DWI"))  # BraTS has no DWI
    with pytest.raises(PmmError, match="no training slices of cases with T1, DWI"):
        run_central(lacking, [Path(env["PMM_CACHE_DIR"]) / "BraTS"], RunSettings(run_dir=peers["folder"] / "none"),
                    TrackingSettings(experiment="lacking", tracking_uri=peers["uri"]), echo=lambda _: None)
    mlflow.set_tracking_uri(peers["uri"])
    assert set(mlflow.search_runs(experiment_names=["lacking"])["status"]) == {"FAILED"}
    with pytest.raises(PmmError, match="only --method pix2pix"):
        options_with_overrides(None, task=(("T1",), "T1C"))
    with pytest.raises(PmmError, match="--no-pfm is PMM-Synth's ablation"):
        options_with_overrides(None, method="mmgan", no_pfm=True)


def test_a_cohort_case_pix2pix_cannot_serve_is_that_cases_failure(peers: dict, tmp_path: Path) -> None:
    """`pmm complete` with the T1->T1C pix2pix model on a cohort where one case lacks T1 as well:
    that case is reported and skipped before it is read, the others are completed, the manifest
    is written (before, the model's refusal stopped the whole cohort)."""
    cohort, out = tmp_path / "cohort", tmp_path / "completed"
    for case in sorted((peers["data"] / "BraTS").glob("BraTS2021_*")):   # the 2021 naming: *_t1ce, *_t1
        for path in case.iterdir():
            if "_t1ce" in path.name or (case.name.endswith("1") and "_t1." in path.name):
                continue  # T1C missing everywhere; T1 too in the cases whose id ends in 1
            (cohort / case.name).mkdir(parents=True, exist_ok=True)
            (cohort / case.name / path.name).symlink_to(path)
    without_t1 = sorted(c.name for c in cohort.iterdir() if c.name.endswith("1"))
    assert without_t1 and len(without_t1) < len(list(cohort.iterdir()))
    result = run_pmm("complete", "--checkpoint", str(peers["runs"]["pix2pix"]), "--site", "brats", "--cohort",
                     str(cohort), "--targets", "T1C", "--out", str(out), env=peers["env"])
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    manifest = json.loads((out / "pmm_completion.json").read_text())
    assert sorted({entry["Case"] for entry in manifest["SynthesizedFiles"]}) == \
        sorted(c.name for c in cohort.iterdir() if c.name not in without_t1)
    assert f"skipped {without_t1[0]}: " in result.stdout + result.stderr
