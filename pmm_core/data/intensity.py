"""Intensity standardization: how a site's scanner intensities become the model's [0, 1] scale.

Two schemes, chosen per site (`[preprocess] intensity` in the site TOML):

- `tissue` (the default): each volume is divided by its parenchyma median (its healthy-tissue
  level, see `preprocess/intensity_stats.py`), then by one constant per modality that the site
  learns on its *training split*: `upper`, the largest 99.9th brain percentile of those
  anchor-relative intensities over the training cases, so y = min(x / upper, 1). Healthy tissue
  lands on the same value in every case and a lesion keeps its contrast to it, so the scale of a
  missing sequence is predictable from the others. This is the white-matter-peak / median-of-brain
  family of standardizations (Shinohara et al. 2014; Reinhold et al. 2019).
- `percentile`: each volume clipped to its own brain percentiles (0.5 / 99.5) and scaled to
  [0, 1], the scheme of most synthesis papers. Where a lesion is bright the upper percentile sits
  in the lesion, so the scale of the whole volume depends on the lesion's size.

Both are an affine map and a clip of what the cache stores (the volume divided by its anchor), so
a site's scheme can change without preparing its cases again. What a site learned
(`SiteStandardization`) is in its fingerprint and in every checkpoint trained on it, so a model
is always read and inverted in the scale it was trained in; in a federation each site learns its
own from its own data and it never leaves the site.

The inverse (`to_scanner`) maps a synthesis back to scanner units: with the case's own numbers
where the case has the modality (evaluation), else with the site's typical volume (`typical`, the
training medians), which is what a synthesized sequence a case lacks is written in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict

from pmm_core.config.site import IntensityScheme
from pmm_core.errors import PmmError

SCHEMES: tuple[str, ...] = get_args(IntensityScheme)
OutputRange = Literal["scanner", "unit"]  # what a synthesis is written in: scanner units or the model's [0, 1]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class VolumeIntensity(_Record):
    """One volume's intensities in scanner units (measured by `pmm prepare`, kept in meta.json)."""

    anchor: float   # parenchyma median: the healthy-tissue level
    low: float      # brain percentiles of the percentile scheme
    high: float
    top: float      # 99.9th brain percentile


class ModalityScale(_Record):
    """What a site learned of one modality on its training split."""

    upper: float              # tissue scheme: the anchor-relative intensity mapped to 1
    typical: VolumeIntensity  # medians over the training volumes: the site's usual scale


class SiteStandardization(_Record):
    """A site's scheme and what it learned per modality (in the fingerprint and in checkpoints)."""

    scheme: IntensityScheme
    modalities: dict[str, ModalityScale]

    def scale(self, modality: str) -> ModalityScale:
        if modality not in self.modalities:
            raise PmmError(f"the site's intensity standardization has no {modality} (it has "
                           f"{', '.join(self.modalities) or 'none'}); run `pmm prepare` for the site again")
        return self.modalities[modality]

    def volume_map(self, modality: str, volume: VolumeIntensity) -> "AffineMap":
        """Stored (anchor-relative) intensities → the model's [0, 1] scale, for one volume."""
        if self.scheme == "tissue":
            return AffineMap(1.0 / self.scale(modality).upper, 0.0)
        return percentile_map(volume)

    def channel_maps(self, modalities: list[str], volumes: dict[str, VolumeIntensity]) -> list["AffineMap"]:
        """One map per stored channel of a case (its modalities in storage order)."""
        return [self.volume_map(m, volumes[m]) for m in modalities]

    def to_scanner(self, modality: str, synthesis: np.ndarray, volume: VolumeIntensity | None = None) -> np.ndarray:
        """The model's [0, 1] scale → scanner units, with `volume`'s numbers or the site's typical ones."""
        volume = volume or self.scale(modality).typical
        stored = self.volume_map(modality, volume).invert(synthesis)
        return (stored * volume.anchor).astype(np.float32)


@dataclass(frozen=True)
class AffineMap:
    """y = clip(x·scale + offset, 0, 1): the whole of a scheme for one volume."""

    scale: float
    offset: float

    def apply(self, stored: np.ndarray) -> np.ndarray:
        return np.clip(stored * np.float32(self.scale) + np.float32(self.offset), 0.0, 1.0)

    def invert(self, standardized: np.ndarray) -> np.ndarray:
        if self.scale == 0:
            return np.zeros_like(standardized, dtype=np.float32)
        return ((standardized - self.offset) / self.scale).astype(np.float32)


def percentile_map(volume: VolumeIntensity) -> AffineMap:
    """The percentile scheme: (x·anchor − low) / (high − low), all of it 0 when the window is empty."""
    width = volume.high - volume.low
    if width <= 0:
        return AffineMap(0.0, 0.0)
    return AffineMap(volume.anchor / width, -volume.low / width)


def learn_standardization(scheme: IntensityScheme, training: Iterable[dict[str, VolumeIntensity]],
                          fallback: Iterable[dict[str, VolumeIntensity]] = (), headroom: float = 0.0) -> SiteStandardization:
    """What a site learns from its training volumes (each case: modality → intensities).

    A modality no training case has is learned from `fallback` (the site's other cases), so every
    modality the site holds has a scale. `headroom` raises each learned `upper` by that fraction
    (the site's `intensity_headroom`).
    """
    learned: dict[str, ModalityScale] = {}
    for cases in (list(training), list(fallback)):
        by_modality: dict[str, list[VolumeIntensity]] = {}
        for case in cases:
            for modality, volume in case.items():
                by_modality.setdefault(modality, []).append(volume)
        for modality, volumes in by_modality.items():
            if modality in learned:
                continue
            typical = VolumeIntensity(**{k: round(float(np.median([getattr(v, k) for v in volumes])), 4)
                                         for k in VolumeIntensity.model_fields})
            upper = max(v.top / v.anchor for v in volumes) * (1.0 + headroom)
            learned[modality] = ModalityScale(upper=round(upper, 4), typical=typical)
    return SiteStandardization(scheme=scheme, modalities=dict(sorted(learned.items())))


def standardize_channels(stored: np.ndarray, maps: list[AffineMap], mask: np.ndarray) -> np.ndarray:
    """Stored channels (..., C, H, W) → [0, 1] float32 with one map per channel, 0 outside `mask` (..., H, W)."""
    scale = np.asarray([m.scale for m in maps], dtype=np.float32)[:, None, None]
    offset = np.asarray([m.offset for m in maps], dtype=np.float32)[:, None, None]
    out = np.clip(np.asarray(stored, dtype=np.float32) * scale + offset, 0.0, 1.0)
    return out * (np.asarray(mask)[..., None, :, :] > 0)
