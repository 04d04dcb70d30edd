"""deepbet, offline, removes a skull and scalp added around the real ICBM152 brain template."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from nilearn.datasets import load_mni152_brain_mask, load_mni152_template
from scipy import ndimage

import SimpleITK as sitk

from pmm_core.data.nifti_io import array_to_sitk
from pmm_core.data.preprocess.brain_mask import skull_strip_mask


def _template_head() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 2 mm template brain with CSF, bone and scalp shells around it: head, affine, true brain."""
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
    return np.clip(head, 0, None) * 1000, template.affine, brain


@pytest.fixture(scope="module")
def template_head() -> dict:
    """The head, its affine and true brain, and deepbet's mask of it run alone (zyx, as SimpleITK
    gives it), computed once for both tests: a deepbet run costs about 4 CPU s."""
    head, affine, brain = _template_head()
    return {"head": head, "affine": affine, "brain": brain,
            "mask": sitk.GetArrayFromImage(skull_strip_mask(array_to_sitk(head, affine)))}


def test_deepbet_recovers_the_template_brain(template_head: dict) -> None:
    brain = template_head["brain"]
    scalp = ndimage.binary_dilation(brain, iterations=7)
    bone = ndimage.binary_dilation(brain, iterations=4)
    predicted = np.transpose(template_head["mask"], (2, 1, 0)) > 0
    dice = 2 * (predicted & brain).sum() / (predicted.sum() + brain.sum())
    print(f"deepbet Dice {dice:.3f}")
    assert dice > 0.9, f"deepbet Dice {dice:.3f}"
    assert (predicted & scalp & ~bone).sum() < 0.01 * brain.sum()  # the scalp is gone


def test_threads_sharing_the_extractor_get_their_own_images_mask(template_head: dict) -> None:
    """The phantom prepares its sites in threads of one process, which share deepbet's extractor;
    deepbet keeps each image's bounding box on it, so without pmm's lock two images of different
    sizes at once crop one with the other's box (a broadcast error, or a wrong mask)."""
    head, affine = template_head["head"], template_head["affine"]
    images = [array_to_sitk(head, affine), array_to_sitk(np.ascontiguousarray(head[10:-10, 14:-14, 6:]), affine)]
    alone = [template_head["mask"], sitk.GetArrayFromImage(skull_strip_mask(images[1]))]
    start = threading.Barrier(len(images))

    def at_once(image):
        start.wait()
        return sitk.GetArrayFromImage(skull_strip_mask(image))

    with ThreadPoolExecutor(len(images)) as pool:
        together = list(pool.map(at_once, images))
    for mask, reference in zip(together, alone):
        np.testing.assert_array_equal(mask, reference)
