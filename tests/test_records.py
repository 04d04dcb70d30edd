"""Typed records of the prepared cache (meta.json, fingerprint.json) and one validation for
the centralized trainer and the federated sites."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from conftest import tiny_training_options
from pmm_core.data.cache import case_cache_dir, read_case_meta
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.errors import PmmError
from pmm_core.evaluation.validation import validate
from pmm_core.federated.local_round import validation_metrics
from pmm_core.models import build_model


def test_records_read_back_typed(prepared_sites: Path) -> None:
    fingerprint = load_fingerprint(prepared_sites / "ISLES")
    assert fingerprint.site == "ISLES" and fingerprint.modalities == ["FLAIR", "DWI", "ADC"]
    assert sum(case.slices for case in fingerprint.cases.values()) == fingerprint.num_slices
    case_id = fingerprint.split_cases("train")[0]
    meta = read_case_meta(case_cache_dir(prepared_sites / "ISLES", case_id))
    assert meta.case_id == case_id and meta.slices == len(meta.brain_fraction) == meta.shape[0]
    assert meta.geometry.spacing and set(meta.transforms) == set(meta.modalities)
    with pytest.raises(PmmError, match="site ISLES has no 'holdout' split"):
        fingerprint.split_cases("holdout")


def test_a_damaged_fingerprint_is_one_line_naming_file_and_field(prepared_sites: Path, tmp_path: Path) -> None:
    site = tmp_path / "ISLES"
    shutil.copytree(prepared_sites / "ISLES", site)
    data = json.loads((site / "fingerprint.json").read_text())
    data["dataset_id"] = "three"
    (site / "fingerprint.json").write_text(json.dumps(data))
    with pytest.raises(PmmError) as info:
        load_fingerprint(site)
    message = str(info.value)
    assert str(site / "fingerprint.json") in message and "dataset_id" in message and "\n" not in message


def test_centralized_and_federated_validation_are_one(prepared_sites: Path) -> None:
    torch.manual_seed(0)
    options = tiny_training_options(1)
    model = build_model(options.model)
    sites = [prepared_sites / "BraTS", prepared_sites / "ISLES"]
    both = validate(model, sites, options, "cpu", max_cases=1)
    assert {"val/mean_psnr", "val/mean_ssim"} <= set(both.metrics) and both.cases > 0
    site_metrics, cases = validation_metrics(model, sites[1], options, "cpu", max_cases=1)
    alone = validate(model, sites[1:], options, "cpu", max_cases=1)
    assert site_metrics == alone.metrics and cases == alone.cases
    isles = {k: v for k, v in both.metrics.items() if "/ISLES/" in k}
    assert isles and all(site_metrics[k] == v for k, v in isles.items())


def test_a_checkpoint_without_the_sites_intensity_scale_is_one_clear_line(tmp_path: Path) -> None:
    from pmm.inference.model_loading import load_trained_model
    from pmm_core.training.checkpoint import save_checkpoint

    options = tiny_training_options(1)
    old_site = {"name": "BraTS", "dataset_id": 2, "modalities": ["T1", "T2"], "cache_dir": ""}  # before standardization
    save_checkpoint({"config": options.model_dump(mode="json"), "model": build_model(options.model).state_dict(),
                     "sites": [old_site]}, tmp_path / "old.pt")
    with pytest.raises(PmmError, match=r"old\.pt: its site records lack intensity .* train the model again"):
        load_trained_model(tmp_path / "old.pt", torch.device("cpu"))


def test_a_checkpoint_written_before_site_dir_was_named_so_still_reads() -> None:
    from pmm_core.data.intensity import SiteStandardization
    from pmm_core.data.records import SiteRecord

    older = {"name": "BraTS", "dataset_id": 2, "modalities": ["T1"], "cache_dir": "/data/pmm_cache/BraTS",
             "intensity": SiteStandardization(scheme="tissue", modalities={}).model_dump()}
    record = SiteRecord.model_validate(older)
    assert record.site_dir == "/data/pmm_cache/BraTS" and "site_dir" in record.model_dump()
