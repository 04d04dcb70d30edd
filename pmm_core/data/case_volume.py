"""One cached case as the evaluators read it: a zero-filled 6-channel volume of its brain slices.

Evaluation (`pmm evaluate`, validation, the linear baselines) and the downstream segmentation
experiment all need the same view of a case: every modality in its fixed channel on the model's
[0, 1] scale, zeros where the case lacks it, and only the slices with enough brain. It is built
here once. The intensity standardization is the site's (its fingerprint) unless the caller
passes the one a model was trained in (its checkpoint), so a model is scored in its own scale.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pmm_core.data.cache import case_cache_dir, open_case_arrays, read_case_meta
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.intensity import SiteStandardization, VolumeIntensity, standardize_channels
from pmm_core.errors import PmmError
from pmm_core.modalities import MODALITIES, NUM_MODALITIES


@dataclass
class StandardizedCase:
    case_id: str
    volume: np.ndarray           # (Z, 6, H, W) float32 in [0, 1], zero where a modality is missing
    mask: np.ndarray             # (Z, H, W) uint8 brain mask
    modalities: set[str]         # the modalities the case has
    label: np.ndarray | None     # (Z, H, W) uint8, the site's label values; None without a label
    intensity: dict[str, VolumeIntensity]  # each modality's scanner-unit intensities
    standardization: SiteStandardization   # the scale `volume` is in
    stored: np.ndarray                     # (Z, modalities present, H, W) as cached: anchor-relative
    stored_order: list[str]                # the modalities of `stored`'s channels

    def has(self, modalities) -> bool:
        return set(modalities) <= self.modalities

    def anchor_relative(self, modality: str) -> np.ndarray:
        """(Z, H, W) float32: the modality divided by its healthy-tissue anchor, unclipped."""
        return self.stored[:, self.stored_order.index(modality)].astype(np.float32)


def load_case_volume(site_dir: Path, case_id: str, min_brain_fraction: float, with_label: bool = False,
                     standardization: SiteStandardization | None = None) -> StandardizedCase | None:
    """The case's slices with at least `min_brain_fraction` brain; None when none has."""
    case_dir = case_cache_dir(site_dir, case_id)
    meta = read_case_meta(case_dir)
    if meta is None:
        raise PmmError(f"{case_dir}: cached case missing; run `pmm prepare` again")
    keep = [i for i, f in enumerate(meta.brain_fraction) if f >= min_brain_fraction]
    if not keep:
        return None
    standardization = standardization or load_fingerprint(site_dir).intensity
    stored, mask = open_case_arrays(case_dir)
    stored, mask = np.asarray(stored[keep]), np.asarray(mask[keep])
    volume = np.zeros((len(keep), NUM_MODALITIES) + stored.shape[2:], dtype=np.float32)
    maps = standardization.channel_maps(meta.modalities, meta.intensity)
    volume[:, [MODALITIES.index(m) for m in meta.modalities]] = standardize_channels(stored, maps, mask)
    label = None
    if with_label and meta.has_label:
        label = np.asarray(np.load(case_dir / "label.npy", mmap_mode="r")[keep])
    return StandardizedCase(case_id, volume, mask, set(meta.modalities), label, dict(meta.intensity), standardization,
                      stored, list(meta.modalities))
