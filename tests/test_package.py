"""Exported packages: `pmm export`, a run's logged and registered package, `models:/` URIs, loading
without pickle, a fresh folder holding only the package, fine-tuning with `--init`."""
from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from conftest import mlflow_store, run_pmm, tiny_training_options
from pmm.centralized.run_central import run_central
from pmm.centralized.trainer import RunSettings
from pmm.inference.package import MANIFEST, WEIGHTS, file_sha256
from pmm.tracking import TrackingSettings
from pmm_core.errors import PmmError

CASE_MARKERS = ("case0", "BraTS2021_", "BraTS-GLI", "sub-strokecase")  # case ids of the test sites


@pytest.fixture(scope="module")
def run(prepared_sites: Path, tmp_path_factory) -> dict:
    """One tiny run on GEN and BraTS that registers its package as `tiny`, and its evaluation on BraTS."""
    folder = tmp_path_factory.mktemp("packaged")
    uri = mlflow_store(folder / "mlflow.db")
    env = {"PMM_SITES_DIR": str(prepared_sites.parent / "sites"), "PMM_CACHE_DIR": str(prepared_sites),
           "PMM_MODEL_CACHE": str(folder / "model-cache")}
    run_central(tiny_training_options(1), [prepared_sites / "GEN", prepared_sites / "BraTS"],
                RunSettings(run_dir=folder / "run", checkpoint_every=0, progress=False),
                TrackingSettings(experiment="test", tracking_uri=uri, registered_model="tiny"), echo=lambda _: None)
    evaluated = run_pmm("evaluate", "--checkpoint", str(folder / "run" / "best.pt"), "--site", "brats",
                        "--tracking-uri", uri, "--protocols", "model", env=env)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    return {"folder": folder, "uri": uri, "env": env, "package": folder / "run" / "tiny.pmm",
            "data": prepared_sites.parent / "data", "cache": prepared_sites}


def test_a_finished_run_logs_its_package_instead_of_a_pickle_and_registers_it(run: dict, monkeypatch) -> None:
    from mlflow.tracking import MlflowClient

    from pmm.inference.api import Synthesizer

    client = MlflowClient(run["uri"])
    (logged,) = client.search_runs([client.get_experiment_by_name("test").experiment_id],
                                   "tags.`pmm.mode` = 'centralized'")
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert "package" in artifacts and "model" not in artifacts  # no pickled MLflow model any more
    assert [a.path for a in client.list_artifacts(logged.info.run_id, "package")] == ["package/tiny.pmm"]
    sha256 = file_sha256(run["package"])
    assert (run["package"].parent / "tiny.pmm.sha256").read_text() == f"{sha256}  tiny.pmm\n"
    version = client.get_model_version("tiny", "1")
    assert version.tags["pmm.sha256"] == sha256 and version.run_id == logged.info.run_id
    assert "## Intended use" in version.description and "not an acquisition" in client.get_registered_model("tiny").description
    client.set_registered_model_alias("tiny", "champion", "1")

    monkeypatch.setenv("PMM_MODEL_CACHE", run["env"]["PMM_MODEL_CACHE"])
    for uri in ("models:/tiny/1", "models:/tiny@champion", "models:/tiny/latest"):
        model = Synthesizer.load(uri, tracking_uri=run["uri"])
        assert model.trained.origin == uri and file_sha256(model.trained.path) == sha256 and model.sites == ["GEN", "BraTS"]
    for uri, message in (("models:/tiny/9", "not in the registry"), ("models:/nosuch@champion", "not in the registry"),
                         ("models:/tiny", "write models:/NAME/VERSION")):
        with pytest.raises(PmmError, match=message):
            Synthesizer.load(uri, tracking_uri=run["uri"])
    # the CLI takes the URI where it takes a checkpoint, and says where the scores come from
    scored = run_pmm("evaluate", "--checkpoint", "models:/tiny@champion", "--tracking-uri", run["uri"], "--site", "gen",
                     "--protocols", "model", "--out", str(run["folder"] / "registry-eval"), env=run["env"])
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert client.search_runs([client.get_experiment_by_name("pmm").experiment_id],
                              "tags.`pmm.checkpoint` = 'models:/tiny@champion'")


def test_export_keeps_what_inference_needs_and_nothing_of_the_training_machine(run: dict, tmp_path: Path) -> None:
    out = tmp_path / "hospital-a.pmm"
    result = run_pmm("export", "--checkpoint", str(run["folder"] / "run" / "best.pt"), "--out", str(out),
                     "--license", "cc-by-4.0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert file_sha256(out) in result.stdout
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        assert names == {MANIFEST, WEIGHTS, "MODEL_CARD.md", "evaluation/BraTS_test.csv", "evaluation/BraTS_test.json"}
        everything = b"".join(archive.read(name) for name in names if name != WEIGHTS).decode()
        manifest = json.loads(archive.read(MANIFEST))
        card = archive.read("MODEL_CARD.md").decode()
    assert not any(marker in everything.replace("BraTS_test", "") for marker in CASE_MARKERS)  # no case ids
    assert str(run["folder"]) not in everything and str(run["cache"]) not in everything  # no paths of this machine
    assert [site["name"] for site in manifest["sites"]] == ["GEN", "BraTS"]
    assert all(site["site_dir"] is None and site["split"] is None and site["intensity"] for site in manifest["sites"])
    assert manifest["sites"][0]["site_options"]["files"]["T1"] == "*_T1.nii.gz"
    training = manifest["training"]
    assert training["sites"]["GEN"]["cases"] == {"train": 1, "val": 1, "test": 1} and training["steps"] > 0
    assert training["trained_with"]["version"] and training["pathology"]["lesion_weight"] == 20.0
    from safetensors.torch import load_file
    weights = load_file(str(_member(out, WEIGHTS, tmp_path)))
    assert weights and not any(key.startswith("discriminators.") for key in weights)  # inference's weights only
    for section in ("license: cc-by-4.0", "## Model details", "## Uses", "### Out-of-scope use", "not an acquisition",
                    "## Bias, risks and limitations", "## Training details", "| GEN | 5 | T1, T2, FLAIR | 1 / 1 / 1 |",
                    "## Evaluation", "| T1->T1C | source matched (linear) |", "| T1->T1C | this model |"):
        assert section in card, section
    for args, message in ((["--out", str(tmp_path / "x.pt")], "ends in .pmm"),
                          (["--out", str(tmp_path / "again.pmm"), "--checkpoint", str(out)], "is already a package")):
        refused = run_pmm("export", "--checkpoint", str(run["folder"] / "run" / "best.pt"), *args)
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr


def _member(package: Path, name: str, folder: Path) -> Path:
    with zipfile.ZipFile(package) as archive:
        return Path(archive.extract(name, folder / "extracted"))


def test_loading_a_package_never_unpickles_and_a_tampered_one_is_refused(run: dict, tmp_path: Path, monkeypatch) -> None:
    from pmm.inference.model_loading import load_trained_model

    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    with monkeypatch.context() as patch:
        for owner, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
            patch.setattr(owner, name, refuse)
        trained = load_trained_model(run["package"], torch.device("cpu"))
        assert trained.package == "tiny" and [s.name for s in trained.sites] == ["GEN", "BraTS"]
        with pytest.raises(PmmError, match=r"\(AssertionError\)"):  # the guard is real: a checkpoint cannot load under it
            load_trained_model(run["folder"] / "run" / "best.pt", torch.device("cpu"))
    tampered = tmp_path / "tampered.pmm"
    with zipfile.ZipFile(run["package"]) as source, zipfile.ZipFile(tampered, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data[:-1] + bytes([data[-1] ^ 1]) if item.filename == WEIGHTS else data)
    with pytest.raises(PmmError, match="weights.safetensors does not match the SHA-256 its manifest records"):
        load_trained_model(tampered, torch.device("cpu"))
    neither = tmp_path / "site.toml"
    neither.write_text("name = 'x'\n")
    with pytest.raises(PmmError, match="not a readable pmm checkpoint or package"):
        load_trained_model(neither, torch.device("cpu"))


def test_a_fresh_folder_with_only_the_package_synthesizes_and_completes(run: dict, tmp_path: Path, monkeypatch) -> None:
    """No sites folder, no cache, no run, no store: the package and the patients' files."""
    import shutil

    from pmm.inference.api import Synthesizer
    from pmm.inference.complete import CompletionOptions

    work = tmp_path / "partner"
    work.mkdir()
    package = Path(shutil.copy(run["package"], work / "shared.pmm"))
    cohort = Path(shutil.copytree(run["data"] / "GEN", work / "patients"))
    case = cohort / "case01"  # lacks FLAIR
    env = {"PMM_SITES_DIR": str(work / "nothing"), "PMM_CACHE_DIR": str(work / "nothing"), "MLFLOW_TRACKING_URI": ""}
    result = run_pmm("synthesize", "--checkpoint", "shared.pmm", "--site", "GEN", "--input", f"T1={case / 'case01_T1.nii.gz'}",
                     "--input", f"T2={case / 'case01_T2.nii.gz'}", "--target", "FLAIR", "--out", "flair.nii.gz",
                     cwd=work, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    written = nib.load(str(work / "flair.nii.gz"))
    assert bytes(written.header["descrip"]).startswith(b"SYNTHETIC") and b"shared.pmm" in bytes(written.header["descrip"])
    label = json.loads((work / "flair.json").read_text())
    assert label["ModelPackage"] == "tiny" and label["CheckpointSHA256"] == file_sha256(package)

    monkeypatch.chdir(work)
    monkeypatch.setenv("PMM_SITES_DIR", env["PMM_SITES_DIR"])
    model = Synthesizer.load(package, device="cpu")
    image = model.synthesize({"T1": case / "case01_T1.nii.gz", "T2": case / "case01_T2.nii.gz"}, target="FLAIR", site="GEN")
    assert np.allclose(image.get_fdata(), written.get_fdata(), atol=1e-4)  # what the CLI wrote, in memory
    assert image.extra["pmm"]["Synthetic"] is True and bytes(image.header["descrip"]).startswith(b"SYNTHETIC")
    summary = model.complete("GEN", work / "completed", folder=cohort, options=CompletionOptions(targets=["FLAIR"]))
    assert summary.completed == ["case01"] and not summary.failed
    manifest = json.loads((work / "completed" / "pmm_completion.json").read_text())
    assert manifest["ModelPackage"] == "tiny" and manifest["SynthesizedFiles"][0]["Case"] == "case01"
    with pytest.raises(PmmError, match="give the folder of the cases"):
        model.complete("GEN", work / "again")
    with pytest.raises(PmmError, match="keeps no case ids"):
        model.complete("GEN", work / "split", folder=cohort, options=CompletionOptions(split="test"))


def test_fine_tuning_starts_from_a_package_on_a_new_site(run: dict, tmp_path: Path) -> None:
    config = tmp_path / "short.toml"
    config.write_text('epochs = 1\nbatch_size = 4\nprecision = "float32"\n')  # the default (paper-size) model
    result = run_pmm("train-central", "--init", str(run["package"]), "--sites", "isles", "--config", str(config),
                     "--max-steps", "2", "--run-dir", str(tmp_path / "tuned"), "--tracking-uri", run["uri"], "--quiet",
                     env=run["env"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "starting from tiny" in result.stdout
    saved = torch.load(tmp_path / "tuned" / "last.pt", map_location="cpu", weights_only=True)
    assert saved["init"]["sha256"] == file_sha256(run["package"]) and saved["init"]["name"] == "tiny"
    assert saved["config"]["model"]["base_channels"] == 8  # the package's architecture, not the config's default
    assert [site["name"] for site in saved["sites"]] == ["ISLES"]
    both = run_pmm("train-central", "--init", str(run["package"]), "--resume", str(tmp_path / "tuned"))
    assert both.returncode == 2 and "give one of them" in both.stderr
