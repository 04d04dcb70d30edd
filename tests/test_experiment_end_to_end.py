"""`pmm experiment` end to end at its smallest: a 3-case phantom, one epoch of a width-8 model,
U-Nets of 2 epochs, the peers on BraTS only (pix2pix on its first task). Segmentation runs first
and trains the full model; tables then reuses that
finished run (same sites and settings), trains the other variants and the federation;
normalization reuses it as its `tissue` arm and trains the `percentile` one; pathology reuses it
as the paper's recipe and trains the options beyond the paper together; each writes its
section, plot and MLflow runs. The numbers mean nothing at this size; the test checks
that every step of the pipeline runs through the code users run."""
from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

from conftest import mlflow_store, run_pmm

TINY = """cases_per_site = 3
epochs = 1
batch_size = 4
learning_rate = 1e-3
precision = "float32"
[model]
base_channels = 8
residual_blocks = 1
embedding_dim = 16
modulation_hidden = 16
encoding_dim = 16
discriminator_channels = 8
discriminator_layers = 2
[extra]
unet_steps = 4
heldout_cases = 1
unet_seeds = { ISLES = 2 }
unet_augmentation = "nnunet"
peer_sites = ["BraTS"]
peer_tasks = 1
variants = ["paper", "all"]
synthesis = ["paper", "all"]
"""


def test_segmentation_then_tables_share_the_phantom_and_the_full_model(prepared_phantom: Path, tmp_path: Path) -> None:
    import mlflow

    settings, out, doc = tmp_path / "tiny.toml", tmp_path / "out", tmp_path / "RESULTS.md"
    shutil.copytree(prepared_phantom, out / "tiny" / "phantom-3-0")  # the session's, as a finished earlier build
    settings.write_text(TINY)
    uri = mlflow_store(tmp_path / "mlflow.db")
    common = ["--settings", str(settings), "--out", str(out), "--doc", str(doc), "--tracking-uri", uri]

    result = run_pmm("experiment", "segmentation", *common, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "full: training on TTG, TTI, BraTS, ISLES" in result.stdout
    assert "| BraTS | ET |" in result.stdout and "| ISLES | infarct |" in result.stdout
    runs = out / "tiny"
    rows = json.loads((runs / "segmentation" / "results.json").read_text())["rows"]
    assert {(r["site"], r["way"]) for r in rows} >= {("BraTS", "T1C synthesized (paper)"), ("ISLES", "DWI missing"),
                                                     ("ISLES", "DWI synthesized (all)")}
    assert "| site | class | all real | missing | synthesized (paper) | synthesized (all) |" in result.stdout
    assert all(0.0 <= r["dice_mean"] <= 1.0 for r in rows)
    # every way is scored on the test split's one case and one held-out case: the site's fourth,
    # drawn after the phantom's three (byte for byte the same), which no model trained on
    assert {r["cases"] for r in rows} == {2}
    assert "Dice on its test split and on 1 held-out case per site" in result.stdout
    phantom, heldout = out / "tiny" / "phantom-3-0", out / "tiny" / "phantom-3-0" / "heldout-1"
    first = Path("BraTS/BraTS2021_00001/BraTS2021_00001_t1ce.nii.gz")
    assert filecmp.cmp(phantom / first, heldout / first, shallow=False)
    assert (heldout / "BraTS/BraTS2021_00004").is_dir() and not (phantom / "BraTS/BraTS2021_00004").exists()
    assert "BraTS2021_00004" not in str(json.loads((phantom / "cache/BraTS/splits.json").read_text()))
    assert (runs / "segmentation/completion/BraTS/heldout-1/completed/BraTS2021_00004/BraTS2021_00004_t1ce.nii.gz"
            ).is_file()                                                          # synthesized by pmm complete
    assert (runs / "segmentation" / "unet-ISLES-all-augmented-seed2.pt").is_file()
    assert not (runs / "segmentation" / "unet-BraTS-all-augmented-seed2.pt").exists()
    assert "nnU-Net intensity augmentation and mirroring" in result.stdout
    assert "each case's Dice is its mean over U-Nets of seeds 0-1 for ISLES" in result.stdout
    manifest = json.loads((runs / "segmentation" / "completion" / "BraTS" / "completed" / "pmm_completion.json").read_text())
    assert manifest["SynthesizedFiles"] and {f["Modality"] for f in manifest["SynthesizedFiles"]} == {"T1C"}  # pmm complete

    result = run_pmm("experiment", "tables", *common, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"full: reusing {runs / 'segmentation' / 'full'} (same sites and settings)" in result.stdout
    assert "federated: pmm simulate of TTG, TTI, BraTS, ISLES, 1 rounds of 1 local epoch" in result.stdout
    assert "Claims: " in result.stdout
    assert "| BraTS | PMM-Synth > pix2pix (average PSNR over 1 task) |" in result.stdout  # T1->T1C only
    assert "| BraTS | PMM-Synth > MM-GAN (average PSNR over 4 tasks) |" in result.stdout
    assert len(list(out.glob("tiny/phantom-3-0/READY"))) == 1   # one phantom, built once
    _check_the_federation(runs / "tables" / "federated", uri)

    result = run_pmm("experiment", "normalization", *common, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"tissue: reusing {runs / 'segmentation' / 'full'}" in result.stdout  # the default scheme's full model
    assert "percentile: training on TTG, TTI, BraTS, ISLES" in result.stdout
    assert (runs / "phantom-3-0" / "cache-percentile" / "BraTS" / "cases").is_symlink()
    results = json.loads((runs / "normalization" / "results.json").read_text())
    assert {(r["variant"], r["protocol"]) for r in results["rows"]} == {
        (v, p) for v in ("tissue", "percentile") for p in ("model", "common", "brasyn")}
    assert results["better"] in ("tissue", "percentile") and "better: **" in result.stdout
    brats = [r for r in results["rows"] if r["site"] == "BraTS" and r["protocol"] == "brasyn"]
    assert brats and all(r["ssim_lesion_mean"] is not None for r in brats)  # BraTS has tumour labels

    result = run_pmm("experiment", "pathology", *common, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"full: reusing {runs / 'segmentation' / 'full'}" in result.stdout  # the paper's recipe
    assert f"pathology-all: reusing {runs / 'segmentation' / 'pathology-all'}" in result.stdout  # trained once
    assert (runs / "phantom-3-0" / "cache-headroom-0.5" / "BraTS" / "cases").is_symlink()
    results = json.loads((runs / "pathology" / "results.json").read_text())
    lesion = [r for r in results["rows"] if r["site"] == "BraTS" and r["protocol"] == "common" and r["method"] == "pmm"]
    assert {r["variant"] for r in lesion} == {"paper", "all", "pix2pix"} and all(r["psnr_lesion_mean"] > 0 for r in lesion)
    assert f"pix2pix-BraTS-T1_to_T1C: reusing {runs / 'tables' / 'pix2pix-BraTS-T1_to_T1C'}" in result.stdout
    assert "| task | paper | all | pix2pix | linear map (paper's scale) |" in result.stdout
    assert "| variant | mean lesion PSNR (dB) |" in result.stdout
    assert (runs / "pathology" / "pathology-BraTS.png").stat().st_size > 1000  # the largest lesion, every variant

    text = doc.read_text()
    for name in ("segmentation", "tables", "normalization", "pathology"):
        assert text.count(f"<!-- experiment:{name} -->") == 1
        assert (tmp_path / "results" / f"{name}.png").stat().st_size > 1000
        assert f"pmm experiment {name} --settings" in text
    assert "smoke run" in text   # smaller than the full setting: marked as such

    mlflow.set_tracking_uri(uri)
    names = set(mlflow.search_runs(experiment_names=["experiments"])["tags.mlflow.runName"])
    assert {"segmentation/full", "segmentation-summary", "tables-summary", "tables/multi",
            "segmentation/unet-BraTS-without-T1C-augmented"} <= names


def _check_the_federation(folder: Path, uri: str) -> None:
    """The tables' federated variant is `pmm simulate`'s own code (pmm.simulation) over real Flower
    processes: every site sent the same shared parameters and nothing personal, each got its model,
    and MLflow holds one federation run with a child per site."""
    import mlflow

    audit = [json.loads(line) for line in (folder / "federation" / "messages.jsonl").read_text().splitlines()]
    sent = [entry for entry in audit if entry["stage"] == "train"]
    assert len(sent) == 4 and all(set(entry["parameters"]) == set(sent[0]["parameters"]) for entry in sent)
    assert not any(name.startswith(("embedding.", "discriminators.")) for name in sent[0]["parameters"])
    assert all((folder / "state" / site / "model.pt").is_file() for site in ("TTG", "TTI", "BraTS", "ISLES"))
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["experiments"], filter_string="tags.`pmm.mode` LIKE 'federated%'")
    assert sorted(runs["tags.pmm.mode"]) == ["federated"] + ["federated-site"] * 4
