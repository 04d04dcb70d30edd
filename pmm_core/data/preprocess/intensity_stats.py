"""What `pmm prepare` measures of each volume's intensities, in scanner units, inside the brain.

Scanner intensities have no absolute scale, so every volume is described by a few numbers from
which each standardization scheme (`pmm_core.data.intensity`) is computed later:

- `anchor`, the parenchyma median: the median of the brain voxels within a factor of two of the
  brain's median, refined three times. A lesion is a small share of the brain and mostly lies
  outside that band (a DWI stroke or an enhancing rim is two to three times brighter than the
  tissue around it, necrosis and CSF on T1 far darker), so it can hardly move the anchor; the
  brain's own median or a histogram peak can (the peak hops between grey and white matter).
- `low`, `high`: the site's brain percentiles (0.5 / 99.5 by default), the per-volume window
  of the percentile scheme; where a lesion is bright, `high` sits in the lesion.
- `top`: the 99.9th brain percentile, from which a site learns where its bright end lies.

The cache stores each volume divided by its anchor, so the schemes differ only in a per-volume
affine map applied when a slice is read, and the scanner-unit volume is recoverable.
"""
from __future__ import annotations

import numpy as np

from pmm_core.data.intensity import VolumeIntensity
from pmm_core.errors import CaseError

TOP_PERCENTILE = 99.9
BAND = 2.0          # the parenchyma band: within this factor of the running median
REFINEMENTS = 3


def parenchyma_median(values: np.ndarray) -> float:
    """The median of the voxels within a factor `BAND` of the running median (see module doc)."""
    positive = values[values > 0]
    if positive.size == 0:
        return 0.0
    median = float(np.median(positive))
    for _ in range(REFINEMENTS):
        band = positive[(positive > median / BAND) & (positive < median * BAND)]
        if band.size == 0:
            break
        median = float(np.median(band))
    return median


def measure_volume(volume: np.ndarray, mask: np.ndarray, percentiles: tuple[float, float],
                   describe: str) -> VolumeIntensity:
    """The intensity record of one resampled volume; a CaseError naming it when the brain is empty of signal."""
    inside = volume[mask > 0].astype(np.float64)
    anchor = parenchyma_median(inside)
    if anchor <= 0:
        raise CaseError(f"{describe}: no signal inside the brain mask (all voxels are zero or negative)")
    low, high, top = (float(v) for v in np.percentile(inside, [*percentiles, TOP_PERCENTILE]))
    return VolumeIntensity(anchor=anchor, low=low, high=high, top=top)


def anchor_relative(volume: np.ndarray, mask: np.ndarray, stats: VolumeIntensity) -> np.ndarray:
    """What the cache stores: the volume divided by its anchor, 0 outside the brain."""
    return np.where(mask > 0, volume / stats.anchor, 0.0).astype(np.float32)
