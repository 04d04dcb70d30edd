"""Scores inside the lesion: what a synthesis is acquired for.

Healthy tissue is most of the brain and easy (a linear map of one source gets it), so a
whole-brain PSNR hides a synthesis that loses the enhancing rim on T1C, the edema on FLAIR or
the infarct on DWI. Where a case has a lesion label, every row set of `pmm evaluate` also scores:

- `psnr_lesion`: PSNR (data range 1) over the lesion's voxels of the case, voxel-wise (not per
  slice: a lesion is a few percent of the brain and absent from most slices);
- `ssim_lesion`: the SSIM map (the protocol's own SSIM) averaged over the lesion's voxels;
- `contrast`: the lesion-to-healthy-tissue contrast of the prediction over that of the truth.
  Contrast is Weber's, (mean lesion - mean healthy tissue) / mean healthy tissue, where healthy
  tissue is the brain outside the lesion. 1 is right; 0 is a lesion drawn at the level of healthy
  tissue (missing); 0.5 a lesion that stands out half as much as it should; above 1 an
  exaggerated one; negative, one of the wrong sign. A lesion within `MIN_TRUTH_CONTRAST` of
  healthy tissue in the truth (isointense in that sequence) has no meaningful ratio: None.
"""
from __future__ import annotations

import numpy as np

from pmm_core.evaluation.metrics import MAX_PSNR

MIN_TRUTH_CONTRAST = 0.05  # |Weber contrast| of the truth below which the ratio is not defined


def lesion_region(label: np.ndarray | None, mask: np.ndarray | None) -> np.ndarray | None:
    """The lesion voxels (inside the brain `mask` when given); None without a label or a lesion voxel."""
    if label is None:
        return None
    region = label > 0 if mask is None else (label > 0) & (mask > 0)
    return region if region.any() else None


def region_psnr(prediction: np.ndarray, truth: np.ndarray, region: np.ndarray) -> float | None:
    """PSNR (data range 1) over the voxels of `region`; None when the region is empty."""
    if not region.any():
        return None
    error = float(np.mean((prediction[region].astype(np.float64) - truth[region]) ** 2))
    return MAX_PSNR if error == 0 else float(min(10 * np.log10(1.0 / error), MAX_PSNR))


def weber_contrast(image: np.ndarray, lesion: np.ndarray, healthy: np.ndarray) -> float | None:
    level = float(image[healthy].mean()) if healthy.any() else 0.0
    if level <= 0:
        return None
    return (float(image[lesion].mean()) - level) / level


def contrast_ratio(prediction: np.ndarray, truth: np.ndarray, lesion: np.ndarray, brain: np.ndarray) -> float | None:
    """The prediction's lesion contrast over the truth's (see the module docstring)."""
    healthy = brain & ~lesion
    expected = weber_contrast(truth, lesion, healthy)
    if expected is None or abs(expected) < MIN_TRUTH_CONTRAST:
        return None
    found = weber_contrast(prediction, lesion, healthy)
    return None if found is None else found / expected
