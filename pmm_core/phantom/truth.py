"""What the phantom knows and a real scan does not: scoring a registration against the true motion.

Every phantom acquisition records the subject motion it was taken with (`PhantomCase.motions`)
and the true brain (`PhantomCase.brain`), so a registration can be scored in millimetres over the
brain, which benchmarks and tests do.
"""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from pmm_core.data.nifti_io import LPS_FROM_RAS
from pmm_core.phantom.generator import PhantomCase


def brain_points(case: PhantomCase, count: int = 2000, seed: int = 0) -> np.ndarray:
    """World (RAS mm) points inside the phantom's true brain, in the label's (unmoved) frame."""
    ijk = np.argwhere(case.brain.data > 0)
    ijk = ijk[np.random.default_rng(seed).choice(len(ijk), min(count, len(ijk)), replace=False)]
    return ijk @ case.brain.affine[:3, :3].T + case.brain.affine[:3, 3]


def registration_error_mm(transform: sitk.Transform, case: PhantomCase, fixed: str, moving: str,
                          points: np.ndarray) -> float:
    """Mean |T(q) - truth| over brain points p, q showing p in the fixed image and truth showing it in the moving one.

    A voxel at world point x of modality m shows the anatomy the reference shows at motions[m] @ x,
    so q = motions[fixed]^-1 p and truth = motions[moving]^-1 p; `transform` maps LPS points.
    """
    homogeneous = np.c_[points, np.ones(len(points))]
    in_fixed = (np.linalg.inv(case.motions[fixed]) @ homogeneous.T).T[:, :3]
    truth = (np.linalg.inv(case.motions[moving]) @ homogeneous.T).T[:, :3]
    estimate = np.array([LPS_FROM_RAS @ transform.TransformPoint(tuple(LPS_FROM_RAS @ q)) for q in in_fixed])
    return float(np.linalg.norm(estimate - truth, axis=1).mean())
