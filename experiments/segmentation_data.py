"""Slices and labels of a prepared site for the downstream segmentation experiment."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pmm_core.data.case_volume import StandardizedCase, load_case_volume
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.intensity import SiteStandardization
from pmm_core.modalities import MODALITIES


def labelled_cases(site_dir: Path, split: str | None, needed: tuple[str, ...], min_brain_fraction: float = 0.05,
                   standardization: SiteStandardization | None = None) -> list[StandardizedCase]:
    """The split's cases (every case when `split` is None) that have every `needed` modality and a
    label, brain slices only, in the site's scale or the `standardization` given."""
    fingerprint = load_fingerprint(site_dir)
    cases = []
    for case_id in (fingerprint.split_cases(split) if split else sorted(fingerprint.cases)):
        case = load_case_volume(site_dir, case_id, min_brain_fraction, with_label=True, standardization=standardization)
        if case is not None and case.label is not None and case.has(needed):
            cases.append(case)
    return cases


def channels(volume: np.ndarray, inputs: tuple[str, ...]) -> np.ndarray:
    """The U-Net's input channels, in `inputs` order, from a zero-filled 6-channel volume."""
    return volume[:, [MODALITIES.index(m) for m in inputs]]


def label_targets(label: np.ndarray, classes: dict[str, tuple[int, ...]]) -> np.ndarray:
    """(Z, classes, H, W) binary targets: e.g. WT = {1, 2, 4}, TC = {1, 4}, ET = {4} for BraTS."""
    return np.stack([np.isin(label, values) for values in classes.values()], axis=1).astype(np.float32)
