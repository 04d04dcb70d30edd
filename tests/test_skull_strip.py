"""deepbet, offline, removes a skull and scalp added around the real ICBM152 brain template."""
from __future__ import annotations

import numpy as np
from nilearn.datasets import load_mni152_brain_mask, load_mni152_template
from scipy import ndimage

import SimpleITK as sitk

from pmm_core.data.nifti_io import array_to_sitk
from pmm_core.data.preprocess.brain_mask import skull_strip_mask


def test_deepbet_recovers_the_template_brain() -> None:
    template = load_mni152_template(resolution=2)
    brain = load_mni152_brain_mask(resolution=2).get_fdata() > 0
    head = template.get_fdata().astype(np.float32)
    csf = ndimage.binary_dilation(brain, iterations=1)
    bone = ndimage.binary_dilation(brain, iterations=4)
    scalp = ndimage.binary_dilation(brain, iterations=7)
    head[csf & ~brain] = 0.12
    head[bone & ~csf] = 0.05
    head[scalp & ~bone] = 0.85
    head += 0.01 * np.random.default_rng(0).standard_normal(head.shape).astype(np.float32)
    head = np.clip(head, 0, None) * 1000

    predicted = sitk.GetArrayFromImage(skull_strip_mask(array_to_sitk(head, template.affine)))
    predicted = np.transpose(predicted, (2, 1, 0)) > 0
    dice = 2 * (predicted & brain).sum() / (predicted.sum() + brain.sum())
    print(f"deepbet Dice {dice:.3f}")
    assert dice > 0.9, f"deepbet Dice {dice:.3f}"
    assert (predicted & scalp & ~bone).sum() < 0.01 * brain.sum()  # the scalp is gone
