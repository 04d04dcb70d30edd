"""`pmm experiment`: settings per experiment, the paper's claims on given numbers, the results
document, reuse of finished runs across experiments, the plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import run_pmm
from pmm.experiments.report import update_doc
from pmm.experiments.segmentation import TASKS, figure as segmentation_figure, oversample_foreground, unet_batches, unet_seeds
from pmm.experiments.segmentation_heldout import heldout_setting
from pmm.experiments.unet_augmentation import augmented
from pmm.experiments.settings import experiment_names, load_settings
from pmm.experiments.tables import claims, task_pairs
from pmm.experiments.variants import finished_run, run_signature, train_central, variant_options
from pmm.experiments.workspace import Workspace
from pmm_core.config.model import ModelOptions
from pmm_core.errors import PmmError


def test_every_experiment_has_a_quick_setting_smaller_than_the_full_one() -> None:
    assert {"tables", "mcbs"} <= set(experiment_names())
    for name in experiment_names():
        full, quick = load_settings(name, quick=False), load_settings(name, quick=True)
        assert quick.cases_per_site <= full.cases_per_site and quick.epochs < full.epochs
        assert quick.model.base_channels < full.model.base_channels
        options = quick.training_options()
        assert options.epochs == quick.epochs and options.model == quick.model


def test_unet_seeds_take_one_number_or_a_table_by_site() -> None:
    assert [unet_seeds(2)(site) for site in TASKS] == [2, 2]
    assert unet_seeds({"ISLES": 3})("ISLES") == 3 and unet_seeds({"ISLES": 3})("BraTS") == 1
    with pytest.raises(PmmError, match="unknown site 'ISLE'"):
        unet_seeds({"ISLE": 3})
    with pytest.raises(PmmError, match="ISLES = 0"):
        unet_seeds({"ISLES": 0})


def test_pathology_site_table_shows_the_first_variants_linear_map_without_the_paper_variant() -> None:
    from pmm.experiments.pathology import site_lines

    def row(method: str, protocol: str, psnr: float) -> dict:
        return {"site": "ISLES", "task": "FLAIR->DWI", "method": method, "protocol": protocol, "variant": "default",
                "psnr_mean": psnr, "psnr_lesion_mean": psnr - 4, "contrast_mean": 0.5}

    rows = [row("pmm", "common", 20.0), row("match", "common", 16.5), row("pmm", "brasyn", 18.0),
            row("match", "brasyn", 14.0)]
    lines = site_lines(rows, "ISLES", ["default"])
    assert "| task | default | linear map (default's scale) |" in lines
    assert "| FLAIR->DWI | 16.00 (0.50) | 12.50 (0.50) |" in lines
    assert "| BraSyn PSNR, site average | 18.00 | 14.00 |" in lines


def test_unknown_experiment_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(PmmError, match="unknown experiment 'table'"):
        load_settings("table", quick=True)
    result = run_pmm("experiment", "table", "--quick", "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "unknown experiment 'table'; choose from" in result.stderr
    assert not any(tmp_path.iterdir())  # nothing written


def test_task_pairs_are_the_papers_one_to_one_and_many_to_one() -> None:
    assert set(task_pairs("TTG")) == {("T1->T1C", "T1,T2,FLAIR->T1C"), ("T2->FLAIR", "T1,T2->FLAIR")}
    assert set(task_pairs("ISLES")) == {("FLAIR->DWI", "FLAIR,ADC->DWI"), ("FLAIR->ADC", "FLAIR,DWI->ADC")}


def _rows(site: str, values: dict[str, dict[str, float]]) -> list[dict]:
    return [{"site": site, "task": task, "method": method, "psnr_mean": psnr}
            for method, tasks in values.items() for task, psnr in tasks.items()]


def test_claims_are_judged_on_the_numbers() -> None:
    one, many = "FLAIR->DWI", "FLAIR,ADC->DWI"
    rows = _rows("ISLES", {"single": {one: 20.0, many: 21.0}, "multi": {one: 21.0, many: 22.0},
                           "full": {one: 22.0, many: 21.5}, "federated": {one: 20.0, many: 20.5}})
    judged = {c["claim"]: c["holds"] for c in claims(rows)}
    assert judged["full > w/o PFM multi (average PSNR): PFM helps the multi-site model"] is True
    assert judged["w/o PFM multi > w/o PFM single (average PSNR): more sites help"] is True
    assert judged["federated within 1 dB of centralized (average PSNR)"] is False   # 20.25 vs 21.75
    assert judged[f"{many} beats {one} (full model, PSNR)"] is False
    # the chain is judged link by link: multi below single does not hide that PFM helps
    rows = _rows("ISLES", {"single": {one: 22.0}, "multi": {one: 21.0}, "full": {one: 23.0}, "federated": {one: 23.0}})
    judged = {c["claim"]: c["holds"] for c in claims(rows)}
    assert judged["full > w/o PFM multi (average PSNR): PFM helps the multi-site model"] is True
    assert judged["w/o PFM multi > w/o PFM single (average PSNR): more sites help"] is False


def test_results_document_sections_are_replaced_in_place(tmp_path: Path) -> None:
    doc = tmp_path / "RESULTS.md"
    update_doc(doc, "tables", "## Tables\nfirst")
    update_doc(doc, "mcbs", "## MCBS\nonly")
    update_doc(doc, "tables", "## Tables\nsecond")
    text = doc.read_text()
    assert "second" in text and "first" not in text and text.count("## Tables") == 1
    assert text.index("## Tables") < text.index("## MCBS")


def _workspace(out: Path, name: str, **changes) -> Workspace:
    settings = load_settings(name, quick=True).model_copy(update=changes)
    return Workspace(out, name, settings, tracking_uri=None, echo=lambda _: None, quick=True)


def _finish(space: Workspace, label: str, sites: list[str], pfm: bool = True, mcbs: bool = True) -> Path:
    """A run folder as train_central leaves it when it ends: RUN.json, then DONE."""
    run_dir = space.runs / label
    run_dir.mkdir(parents=True)
    (run_dir / "best.pt").write_bytes(b"checkpoint")
    signature = run_signature(sites, variant_options(space, pfm, mcbs))  # the phantom's default cache
    (run_dir / "RUN.json").write_text(json.dumps({"signature": signature}))
    (run_dir / "DONE").write_text("12.5")
    return run_dir


def test_a_finished_run_serves_every_experiment_with_the_same_settings(tmp_path: Path) -> None:
    sites = ["TTG", "TTI", "BraTS", "ISLES"]
    tables = _workspace(tmp_path, "tables")
    full = _finish(tables, "full", sites)
    segmentation = _workspace(tmp_path, "segmentation")
    signature = run_signature(sites, variant_options(segmentation, True, True))
    assert finished_run(segmentation, "full", signature) == full
    assert train_central(segmentation, "full", sites) == full / "best.pt"   # reused: nothing trains
    assert segmentation.timings["full"] == 12.5
    # any difference in sites, PFM, MCBS or a training option makes it another run
    assert finished_run(segmentation, "full", run_signature(sites, variant_options(segmentation, False, True))) is None
    assert finished_run(segmentation, "full", run_signature(sites[:2], variant_options(segmentation, True, True))) is None
    longer = _workspace(tmp_path, "segmentation", epochs=segmentation.settings.epochs + 1)
    assert finished_run(longer, "full", run_signature(sites, variant_options(longer, True, True))) is None


def test_a_run_recorded_before_transposing_serves_the_default_not_the_transposed_variant(tmp_path: Path) -> None:
    from pmm.experiments.pathology import variant_setup

    sites = ["TTG", "TTI", "BraTS", "ISLES"]
    space = _workspace(tmp_path, "segmentation")
    default = space.settings.training_options(pathology=variant_setup(space, "default")[0])
    transposed = space.settings.training_options(pathology=variant_setup(space, "default-transposed")[0])
    recorded = run_signature(sites, default)
    del recorded["training"]["pathology"]["transposing"]          # RUN.json of a pmm before the key
    run_dir = space.runs / "pathology-default"
    run_dir.mkdir(parents=True)
    (run_dir / "RUN.json").write_text(json.dumps({"signature": recorded}))
    (run_dir / "DONE").write_text("600")
    assert finished_run(space, "pathology-default", run_signature(sites, default)) == run_dir  # still reused
    assert finished_run(space, "pathology-default-transposed", run_signature(sites, transposed)) is None  # trained without it


def test_an_unfinished_run_is_not_reused(tmp_path: Path) -> None:
    tables = _workspace(tmp_path, "tables")
    run_dir = _finish(tables, "full", ["BraTS"])
    (run_dir / "DONE").unlink()   # killed before the end
    signature = run_signature(["BraTS"], variant_options(tables, True, True))
    assert finished_run(_workspace(tmp_path, "segmentation"), "full", signature) is None


def test_segmentation_figure_has_a_bar_per_class_and_way(tmp_path: Path) -> None:
    rows = [{"site": site, "class": name, "way": way, "column": column, "dice_mean": 0.5, "dice_std": 0.1, "cases": 2}
            for site, task in TASKS.items() for name in task.classes
            for column, way in (("all real", "all real"), ("missing", f"{task.missing} missing"),
                                ("synthesized (paper)", f"{task.missing} synthesized (paper)"),
                                ("synthesized (all)", f"{task.missing} synthesized (all)"))]
    fig = segmentation_figure(rows)
    bars = [patch for patch in fig.axes[0].patches]
    assert len(bars) == len(rows)
    fig.savefig(tmp_path / "segmentation.png")
    assert (tmp_path / "segmentation.png").stat().st_size > 1000


def test_own_settings_file_replaces_the_experiments_config(tmp_path: Path) -> None:
    own = tmp_path / "gpu.toml"
    own.write_text("cases_per_site = 40\nepochs = 50\n[model]\nbase_channels = 64\n[quick]\nepochs = 2\n")
    assert load_settings("tables", quick=False, path=own).model == ModelOptions(base_channels=64)
    assert load_settings("tables", quick=True, path=own).epochs == 2
    own.write_text("epochs = 0\n")
    with pytest.raises(PmmError, match=r"gpu.toml: key 'epochs': Input should be greater than or equal to 1"):
        load_settings("tables", quick=False, path=own)
    with pytest.raises(PmmError, match="missing.toml: cannot read the settings"):
        load_settings("tables", quick=False, path=tmp_path / "missing.toml")
    own.write_text("epochs = [\n")
    result = run_pmm("experiment", "tables", "--settings", str(own), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2 and "gpu.toml: not valid TOML" in result.stderr
    assert not (tmp_path / "out").exists()
    own.write_text("cases_per_site = 3\n[extra]\nunet_epochs = 60\n")  # a key U-Nets no longer read: said, not ignored
    result = run_pmm("experiment", "segmentation", "--settings", str(own), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2 and "[extra] unet_epochs is now unet_steps" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not list(tmp_path.glob("out/*/phantom-*"))


def test_a_third_of_every_unet_batch_holds_a_label() -> None:
    rng = np.random.default_rng(0)
    foreground = np.array([3, 40, 41])
    batch = oversample_foreground(np.arange(10, 26), foreground, rng)
    assert len(batch) == 16 and np.isin(batch, foreground).sum() == 6            # ceil(16 / 3)
    assert set(batch[~np.isin(batch, foreground)]) <= set(range(10, 26))
    already = np.array([3, 40, 1, 2])                                             # half labelled: unchanged
    assert list(oversample_foreground(already, foreground, rng)) == [3, 40, 1, 2]
    assert list(oversample_foreground(np.arange(4), np.array([], dtype=int), rng)) == [0, 1, 2, 3]


def test_every_unet_trains_the_same_number_of_batches_whatever_its_slice_count() -> None:
    foreground = np.array([5, 6])
    for count in (20, 100):
        batches = list(unet_batches(count, foreground, 9, np.random.default_rng(0)))
        assert len(batches) == 9 and all(len(b) == 16 and np.isin(b, foreground).sum() >= 6 for b in batches)
        drawn = np.concatenate(batches)
        assert set(drawn) <= set(range(count))
        if count == 100:  # no slice twice before every slice had its turn, but for the labelled extras
            first = drawn[:96][~np.isin(drawn[:96], foreground)]
            assert len(first) == len(set(first))


def test_heldout_cases_is_a_whole_number_of_cases() -> None:
    assert heldout_setting(0) == 0 and heldout_setting(16) == 16
    for bad in (-1, 2.5, True, "16"):
        with pytest.raises(PmmError, match=r"\[extra\] heldout_cases = .*; give a whole number of cases per site"):
            heldout_setting(bad)


def test_unet_augmentation_is_nnunet_or_none() -> None:
    from pmm.experiments.segmentation import augmentation_setting

    assert augmentation_setting("nnunet") and not augmentation_setting("none")
    for bad in ("nnUNet", True, 1):
        with pytest.raises(PmmError, match=r"\[extra\] unet_augmentation = .*: give \"nnunet\""):
            augmentation_setting(bad)


def test_unet_augmentation_varies_intensities_and_mirrors_each_slice_with_its_label() -> None:
    """nnU-Net's transforms, per image: the label only ever mirrored, the image's intensities
    changed on some images and left alone on others, the inputs untouched, the stream deciding."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(64, 3, 16, 12, generator=generator) + 0.5
    targets = (images[:, :1] > 1.2).float()
    before = images.clone(), targets.clone()
    out, labels = augmented(images, targets, np.random.default_rng(1))
    assert torch.equal(images, before[0]) and torch.equal(targets, before[1])
    changed = 0
    for index in range(64):
        placement = [axes for axes in ([], [-2], [-1], [-2, -1])
                     if torch.equal(labels[index], targets[index].flip(axes) if axes else targets[index])]
        assert len(placement) == 1                                               # mirrored, never resampled
        unflipped = out[index].flip(placement[0]) if placement[0] else out[index]
        changed += not torch.allclose(unflipped, images[index])
        assert torch.isfinite(out[index]).all()
    assert 20 < changed < 60                                                     # about 62 %: 1 - 0.9*0.825*0.85*0.85*0.7
    again, _ = augmented(images, targets, np.random.default_rng(1))
    assert torch.equal(again, out)                                               # the U-Net's own stream decides
