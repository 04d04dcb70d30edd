"""Per-modality intensity normalisation to [0, 1] inside the brain (percentile clipping).

Scanner intensities have no absolute scale, so each modality of each case is clipped to its
own low/high percentiles inside the brain mask and rescaled; outside the brain is 0.
"""
from __future__ import annotations

import numpy as np


def normalize_in_mask(volume: np.ndarray, mask: np.ndarray, percentiles: tuple[float, float]) -> tuple[np.ndarray, tuple[float, float]]:
    """(normalised volume in [0, 1], (low, high) raw-intensity percentile values)."""
    inside = volume[mask > 0]
    if inside.size == 0:
        return np.zeros_like(volume, dtype=np.float32), (0.0, 0.0)
    low, high = (float(v) for v in np.percentile(inside, percentiles))
    if high <= low:
        scaled = np.zeros_like(volume, dtype=np.float32)
    else:
        scaled = (np.clip(volume, low, high) - low) / (high - low)
    scaled = np.where(mask > 0, scaled, 0.0).astype(np.float32)
    return scaled, (low, high)
