"""pmm's slice PSNR gives scikit-image's numbers without importing its module (which loads scipy.stats)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from pmm_core.evaluation.metrics import MAX_PSNR, slice_psnr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_slice_psnr_equals_scikit_image(dtype) -> None:
    rng = np.random.default_rng(0)
    for scale in (1e-4, 0.02, 0.3):
        truth = rng.random((64, 64)).astype(dtype)
        prediction = np.clip(truth + scale * rng.standard_normal(truth.shape), 0, 1).astype(dtype)
        assert slice_psnr(prediction, truth) == peak_signal_noise_ratio(truth, prediction, data_range=1.0)
    assert slice_psnr(truth, truth) == MAX_PSNR


def test_scoring_a_slice_does_not_load_scipy_stats() -> None:
    code = ("import sys, numpy as np; from pmm_core.evaluation.metrics import slice_psnr, slice_ssim; "
            "a = np.zeros((16, 16), np.float32); b = a + 0.1; slice_psnr(a, b); slice_ssim(a, b); "
            "print('scipy.stats' in sys.modules)")
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "False"
