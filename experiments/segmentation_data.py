"""Slices and labels of a prepared site for the downstream segmentation experiment."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pmm_core.data.cache import case_cache_dir, open_case_arrays, read_case_meta
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.modalities import MODALITIES, NUM_MODALITIES


@dataclass
class LabelledCase:
    case_id: str
    volume: np.ndarray        # (Z, 6, H, W) float32, zero where a modality is missing
    label: np.ndarray         # (Z, H, W) uint8, the site's label values
    modalities: set[str]


def labelled_cases(site_dir: Path, split: str, needed: tuple[str, ...], min_brain_fraction: float = 0.05) -> list[LabelledCase]:
    """The split's cases that have every `needed` modality and a label, brain slices only."""
    fingerprint = load_fingerprint(site_dir)
    cases = []
    for case_id in fingerprint["split"][split]:
        folder = case_cache_dir(site_dir, case_id)
        meta = read_case_meta(folder)
        if meta is None or not meta.get("has_label") or not set(needed) <= set(meta["modalities"]):
            continue
        keep = [i for i, f in enumerate(meta["brain_fraction"]) if f >= min_brain_fraction]
        stored, _ = open_case_arrays(folder)
        volume = np.zeros((len(keep), NUM_MODALITIES) + stored.shape[2:], dtype=np.float32)
        volume[:, [MODALITIES.index(m) for m in meta["modalities"]]] = stored[keep]
        label = np.load(folder / "label.npy", mmap_mode="r")[keep]
        cases.append(LabelledCase(case_id, volume, np.asarray(label), set(meta["modalities"])))
    return cases


def channels(volume: np.ndarray, inputs: tuple[str, ...]) -> np.ndarray:
    """The U-Net's input channels, in `inputs` order, from a zero-filled 6-channel volume."""
    return volume[:, [MODALITIES.index(m) for m in inputs]]


def label_targets(label: np.ndarray, classes: dict[str, tuple[int, ...]]) -> np.ndarray:
    """(Z, classes, H, W) binary targets: e.g. WT = {1, 2, 4}, TC = {1, 4}, ET = {4} for BraTS."""
    return np.stack([np.isin(label, values) for values in classes.values()], axis=1).astype(np.float32)
