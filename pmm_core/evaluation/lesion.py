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
  exaggerated one; negative, one of the wrong sign.

  It is taken per compartment of the label (each label value: necrosis, oedema and enhancing rim
  of a glioma; the one value of an infarct) and pooled over the compartments the truth shows,
  sum_v sign(e_v) f_v / sum_v |e_v|, with e_v the truth's contrast of compartment v and f_v the
  prediction's. A compartment within `MIN_TRUTH_CONTRAST` of healthy tissue in the truth
  (isointense in that sequence) is left out, and a lesion with none left has no ratio: None.
  Why per compartment: a glioma's oedema is about as bright as white matter on T1C and its rim
  twice as bright, so the whole lesion's mean sits near healthy tissue, and a ratio over it
  divides by almost nothing (measured on the phantom's TTG test cases: whole-lesion T1C contrast
  -0.04 to 0.37, rim alone 0.63 to 1.11). With one compartment this is the whole lesion's ratio.
"""
from __future__ import annotations

import numpy as np

from pmm_core.evaluation.metrics import psnr_of_error

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
    return psnr_of_error(float(np.mean((prediction[region].astype(np.float64) - truth[region]) ** 2)))


def weber_contrast(image: np.ndarray, lesion: np.ndarray, healthy: np.ndarray) -> float | None:
    level = float(image[healthy].mean()) if healthy.any() else 0.0
    if level <= 0:
        return None
    return (float(image[lesion].mean()) - level) / level


def contrast_ratio(prediction: np.ndarray, truth: np.ndarray, label: np.ndarray, lesion: np.ndarray,
                   brain: np.ndarray) -> float | None:
    """The prediction's lesion contrast over the truth's, pooled over the compartments (the values
    of `label` inside the `lesion` region) that the truth shows (see the module docstring)."""
    healthy = brain & ~lesion
    found_sum, expected_sum = 0.0, 0.0
    for value in np.unique(label[lesion]):
        compartment = lesion & (label == value)
        expected = weber_contrast(truth, compartment, healthy)
        if expected is None or abs(expected) < MIN_TRUTH_CONTRAST:
            continue
        found = weber_contrast(prediction, compartment, healthy)
        if found is None:
            return None
        found_sum += float(np.sign(expected)) * found
        expected_sum += abs(expected)
    return found_sum / expected_sum if expected_sum > 0 else None
