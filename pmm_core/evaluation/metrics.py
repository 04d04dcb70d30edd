"""Slice metrics: SSIM with scikit-image, PSNR as scikit-image computes it; on the crop, data range [0, 1].

Used by the per-slice protocols (`protocols.py`: `model`, `common`) of `pmm evaluate` and
validation: every slice of a case whose brain mask covers at least `min_brain_fraction` of the
crop; PSNR and SSIM on the whole crop (background is 0 in both images), data range 1; averaged
per case, then mean ± std over cases.
"""
from __future__ import annotations

import numpy as np

MAX_PSNR = 100.0  # a perfect slice would be infinite; cap it so averages stay finite


def slice_psnr(prediction: np.ndarray, truth: np.ndarray) -> float:
    """PSNR at data range 1 of two float images, computed as scikit-image's
    `peak_signal_noise_ratio` computes it (the difference in the images' float type, its square
    averaged in float64; tests/test_metrics.py holds the two equal), without importing it: its
    module loads scipy.stats for an unrelated metric, 0.6-0.8 s in every process that scores a
    slice, such as each federated round's ClientApp, which Flower starts afresh for every message."""
    kind = np.result_type(prediction.dtype, truth.dtype, np.float32)
    error = np.mean((truth.astype(kind, copy=False) - prediction.astype(kind, copy=False)) ** 2, dtype=np.float64)
    return psnr_of_error(float(error))


def psnr_of_error(error: float) -> float:
    """PSNR at data range 1 of a mean squared error, capped at `MAX_PSNR` (a perfect match)."""
    return MAX_PSNR if error == 0 else float(min(10 * np.log10(1.0 / error), MAX_PSNR))


def slice_ssim(prediction: np.ndarray, truth: np.ndarray) -> float:
    return slice_ssim_map(prediction, truth)[0]


def slice_ssim_map(prediction: np.ndarray, truth: np.ndarray) -> tuple[float, np.ndarray]:
    """The slice's SSIM and its per-pixel map (what a region, the lesion, is averaged over)."""
    from skimage.metrics import structural_similarity  # scipy.ndimage: only where a slice is scored

    score, full = structural_similarity(truth, prediction, data_range=1.0, full=True)
    return float(score), full
