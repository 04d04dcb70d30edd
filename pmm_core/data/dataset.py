"""2D axial slices read from the cache, one typed record per slice.

Each slice is a memory-mapped read of one contiguous block, so a DataLoader worker touches only
the bytes it returns; each modality is mapped to [0, 1] by the site's intensity standardization
(`pmm_core.data.intensity`, learned on the training split) as it is read. Missing modalities are zero-filled channels and their availability bit is
0, which is how the selective loss knows not to supervise them. Slices whose brain mask covers
less than `min_brain_fraction` of the crop (the skull cap, the neck) are left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from pmm_core.data.cache import case_cache_dir, read_case_meta
from pmm_core.data.compartments import CompartmentRule, compartment_shares, label_counts
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.intensity import AffineMap, standardize_channels
from pmm_core.data.pathology import case_lesion_pixels, has_pathology
from pmm_core.data.records import SiteFingerprint
from pmm_core.data.slice_reader import SliceReader
from pmm_core.errors import PmmError
from pmm_core.modalities import NUM_MODALITIES, availability_vector, modality_index


class SliceSample(NamedTuple):
    """One training sample. DataLoader's default collate batches each field (strings into lists)."""

    image: torch.Tensor          # (6, H, W) float32 in [0, 1], zero where the modality is missing
    availability: torch.Tensor   # (6,) float32, M
    dataset_id: torch.Tensor     # () int64, n for PFM
    case_id: str
    slice_index: int
    brain_mask: torch.Tensor     # (H, W) float32 in {0, 1}
    lesion: torch.Tensor         # (H, W) float32: each lesion voxel's share of the lesion weight (0 outside the
                                 # lesion; all 0 unless asked for and labelled; `pmm_core.data.compartments`)


@dataclass(frozen=True)
class CaseEntry:
    site: str
    case_id: str
    folder: Path
    dataset_id: int
    channels: tuple[int, ...]          # channel index of each stored modality
    availability: tuple[int, ...]
    maps: tuple[AffineMap, ...]        # each stored modality's intensity standardization
    labelled: bool = False             # the case has a lesion label (label.npy)
    # the case's files as strings, made once: a read per slice should not rebuild paths
    image_file: str = field(init=False)
    mask_file: str = field(init=False)
    label_file: str = field(init=False)

    def __post_init__(self) -> None:
        for name in ("image", "mask", "label"):
            object.__setattr__(self, f"{name}_file", str(self.folder / f"{name}.npy"))


class SliceDataset(Dataset):
    """Slices of the given split of one or more prepared sites (only of the cases that have every
    `required` modality: a pix2pix model trains on the cases that have its task)."""

    def __init__(self, site_dirs: list[Path], split: str | None = "train", min_brain_fraction: float = 0.05,
                 required: tuple[str, ...] = (), lesion_maps: bool = False,
                 compartments: CompartmentRule = "pooled"):
        """`lesion_maps`: each sample carries its slice of the case's lesion label (the
        lesion-weighted loss), each voxel as its compartment's share (`compartments`: every
        lesion voxel 1, or each compartment of a site's label an equal share); otherwise that
        field is zeros and no label file is opened."""
        self.required, self.lesion_maps = required, lesion_maps
        self.cases: list[CaseEntry] = []
        self.slices: list[tuple[int, int]] = []   # (case position, slice index)
        crop_sizes = {}
        for site_dir in site_dirs:
            fingerprint = load_fingerprint(site_dir)
            crop_sizes[fingerprint.site] = fingerprint.crop_size
            case_ids = sorted(fingerprint.cases) if split is None else fingerprint.split_cases(split)
            for case_id in case_ids:
                self._add_case(Path(site_dir), fingerprint, case_id, min_brain_fraction)
        if len(set(crop_sizes.values())) > 1:
            sizes = ", ".join(f"{site}={size}" for site, size in crop_sizes.items())
            raise PmmError(f"sites were prepared with different crop sizes ({sizes}); prepare them with one --crop-size")
        self.crop_size = next(iter(crop_sizes.values()), 0)
        self._reader = SliceReader()   # no file stays open between reads (see slice_reader)
        counts = self._label_counts() if lesion_maps and compartments == "balanced" else {}
        self._shares = {dataset_id: compartment_shares(compartments, counts.get(dataset_id))
                        for dataset_id in {c.dataset_id for c in self.cases}} if lesion_maps else {}

    def _add_case(self, site_dir: Path, fingerprint: SiteFingerprint, case_id: str, min_brain_fraction: float) -> None:
        folder = case_cache_dir(site_dir, case_id)
        meta = read_case_meta(folder)
        if meta is None:
            raise PmmError(f"{folder}: cached case missing; run `pmm prepare --site {fingerprint.site}` again")
        if not set(self.required) <= set(meta.modalities):
            return
        entry = CaseEntry(
            site=fingerprint.site,
            case_id=case_id,
            folder=folder,
            dataset_id=fingerprint.dataset_id,
            channels=tuple(modality_index(m) for m in meta.modalities),
            availability=availability_vector(meta.modalities),
            maps=tuple(fingerprint.intensity.channel_maps(meta.modalities, meta.intensity)),
            labelled=meta.has_label,
        )
        position = len(self.cases)
        self.cases.append(entry)
        for index, fraction in enumerate(meta.brain_fraction):
            if fraction >= min_brain_fraction:
                self.slices.append((position, index))

    def __len__(self) -> int:
        return len(self.slices)

    def group_key(self, index: int) -> tuple[int, tuple[int, ...]]:
        """(dataset_id, M): the key MCBS batches by."""
        entry = self.cases[self.slices[index][0]]
        return entry.dataset_id, entry.availability

    def group_keys(self) -> list[tuple[int, tuple[int, ...]]]:
        return [self.group_key(i) for i in range(len(self))]

    def pathology_flags(self) -> np.ndarray:
        """(len,) bool: which slices hold pathology (`pmm_core.data.pathology`), read once per case."""
        flags = np.zeros(len(self), dtype=bool)
        for position, indices in self._indices_by_case().items():
            slices = [self.slices[i][1] for i in indices]
            flags[indices] = has_pathology(case_lesion_pixels(self.cases[position].folder, slices))
        return flags

    def _label_counts(self) -> dict[int, np.ndarray]:
        """dataset id -> voxels per label value inside the brain over this dataset's slices of
        that site, each labelled case read once."""
        counts = {entry.dataset_id: label_counts([]) for entry in self.cases}
        for position, indices in self._indices_by_case().items():
            entry = self.cases[position]
            if entry.labelled:  # one case in memory at a time
                slices = [self.slices[i][1] for i in indices]
                counts[entry.dataset_id] += label_counts([(np.load(entry.label_file, mmap_mode="r")[slices],
                                                           np.load(entry.mask_file, mmap_mode="r")[slices])])
        return counts

    def _indices_by_case(self) -> dict[int, list[int]]:
        """case position -> the dataset indices of its slices."""
        by_case: dict[int, list[int]] = {}
        for index, (position, _) in enumerate(self.slices):
            by_case.setdefault(position, []).append(index)
        return by_case

    def __getitem__(self, index: int) -> SliceSample:
        position, slice_index = self.slices[index]
        entry = self.cases[position]
        stored = self._reader.read(entry.image_file, slice_index)
        mask = self._reader.read(entry.mask_file, slice_index)
        image = np.zeros((NUM_MODALITIES,) + stored.shape[1:], dtype=np.float32)
        image[list(entry.channels)] = standardize_channels(stored, list(entry.maps), mask)
        lesion = torch.from_numpy(self._shares[entry.dataset_id][self._reader.read(entry.label_file, slice_index)]) \
            if self.lesion_maps and entry.labelled else torch.zeros(stored.shape[1:], dtype=torch.float32)
        return SliceSample(
            image=torch.from_numpy(image),
            availability=torch.tensor(entry.availability, dtype=torch.float32),
            dataset_id=torch.tensor(entry.dataset_id, dtype=torch.int64),
            case_id=entry.case_id,
            slice_index=slice_index,
            brain_mask=torch.from_numpy(mask.astype(np.float32)),
            lesion=lesion,
        )
