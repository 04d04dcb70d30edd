"""Slice metrics with scikit-image: PSNR and SSIM on the crop, data range [0, 1].

Used by the per-slice protocols (`protocols.py`: `model`, `common`) of `pmm evaluate` and
validation: every slice of a case whose brain mask covers at least `min_brain_fraction` of the
crop; PSNR and SSIM on the whole crop (background is 0 in both images), data range 1; averaged
per case, then mean ± std over cases.
"""
from __future__ import annotations

import numpy as np

MAX_PSNR = 100.0  # a perfect slice would be infinite; cap it so averages stay finite


# skimage.metrics loads scipy.stats (about 0.5 s): imported where a slice is scored, so the
# processes that import the evaluation code but never score (the server, a failing command) skip it


def slice_psnr(prediction: np.ndarray, truth: np.ndarray) -> float:
    from skimage.metrics import peak_signal_noise_ratio

    if np.array_equal(prediction, truth):
        return MAX_PSNR
    return float(min(peak_signal_noise_ratio(truth, prediction, data_range=1.0), MAX_PSNR))


def slice_ssim(prediction: np.ndarray, truth: np.ndarray) -> float:
    return slice_ssim_map(prediction, truth)[0]


def slice_ssim_map(prediction: np.ndarray, truth: np.ndarray) -> tuple[float, np.ndarray]:
    """The slice's SSIM and its per-pixel map (what a region, the lesion, is averaged over)."""
    from skimage.metrics import structural_similarity

    score, full = structural_similarity(truth, prediction, data_range=1.0, full=True)
    return float(score), full
