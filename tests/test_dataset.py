"""Slices from the cache as typed records, batched by a real DataLoader."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pmm_core.data.dataset import SliceDataset, SliceSample
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.samplers import MCBSBatchSampler
from pmm_core.errors import PmmError


def test_sample_is_a_typed_record_with_zero_filled_missing_channels(prepared_sites: Path) -> None:
    dataset = SliceDataset([prepared_sites / "ISLES"], split=None, min_brain_fraction=0.0)
    sample = dataset[len(dataset) // 2]
    assert isinstance(sample, SliceSample)
    assert sample.image.shape == (6, 32, 32) and sample.image.dtype == torch.float32
    assert sample.availability.tolist() == [0, 0, 0, 1, 1, 1]
    assert not sample.image[:3].any() and sample.image[3:].any()
    assert int(sample.dataset_id) == 3 and sample.case_id.startswith("sub-strokecase")
    assert sample.brain_mask.shape == (32, 32)
    # the stored anchor-relative slice through the site's standardization (the tissue scheme: ÷ upper, clip)
    stored = np.load(dataset.cases[dataset.slices[len(dataset) // 2][0]].folder / "image.npy")
    upper = load_fingerprint(prepared_sites / "ISLES").intensity.modalities["FLAIR"].upper
    expected = np.clip(stored[sample.slice_index, 0].astype(np.float32) / upper, 0, 1)
    assert torch.allclose(sample.image[3], torch.from_numpy(expected), atol=1e-6)
    assert 0 <= float(sample.image.min()) and float(sample.image.max()) <= 1


def test_slices_with_little_brain_are_left_out(prepared_sites: Path) -> None:
    everything = SliceDataset([prepared_sites / "BraTS"], split=None, min_brain_fraction=0.0)
    brainy = SliceDataset([prepared_sites / "BraTS"], split=None, min_brain_fraction=0.3)
    assert 0 < len(brainy) < len(everything)
    assert all(sample.brain_mask.mean() >= 0.3 for sample in (brainy[i] for i in range(len(brainy))))


def test_split_selects_cases(prepared_sites: Path) -> None:
    train = SliceDataset([prepared_sites / "GEN"], split="train")
    test = SliceDataset([prepared_sites / "GEN"], split="test")
    assert {c.case_id for c in train.cases}.isdisjoint({c.case_id for c in test.cases})


def test_dataloader_with_mcbs_and_workers_gives_consistent_batches(prepared_sites: Path) -> None:
    sites = [prepared_sites / name for name in ("GEN", "BraTS", "ISLES")]
    dataset = SliceDataset(sites, split=None)
    sampler = MCBSBatchSampler(dataset.group_keys(), batch_size=4, seed=0)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=2)
    batches = list(loader)
    assert len(batches) == len(sampler)
    for batch in batches:
        assert isinstance(batch, SliceSample) and batch.image.shape == (4, 6, 32, 32)
        assert (batch.availability == batch.availability[0]).all()
        assert (batch.dataset_id == batch.dataset_id[0]).all()
        assert len(batch.case_id) == 4


def test_unprepared_site_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PmmError, match="run `pmm prepare --site NOPE` first"):
        SliceDataset([tmp_path / "NOPE"])
