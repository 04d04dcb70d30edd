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


def _mapped(transform: sitk.Transform, points_in_fixed: np.ndarray) -> np.ndarray:
    return np.array([LPS_FROM_RAS @ transform.TransformPoint(tuple(LPS_FROM_RAS @ q)) for q in points_in_fixed])


def _shown_in(case: PhantomCase, modality: str, points: np.ndarray) -> np.ndarray:
    """Where `modality`'s image shows the anatomy at the reference's `points`: motions[m]^-1 p."""
    return (np.linalg.inv(case.motions[modality]) @ np.c_[points, np.ones(len(points))].T).T[:, :3]


def registration_error_mm(transform: sitk.Transform, case: PhantomCase, fixed: str, moving: str,
                          points: np.ndarray) -> float:
    """Mean |T(q) - truth| over brain points p, q showing p in the fixed image and truth showing it in the moving one.

    A voxel at world point x of modality m shows the anatomy the reference shows at motions[m] @ x,
    so q = motions[fixed]^-1 p and truth = motions[moving]^-1 p; `transform` maps LPS points.
    """
    truth = _shown_in(case, moving, points)
    return float(np.linalg.norm(_mapped(transform, _shown_in(case, fixed, points)) - truth, axis=1).mean())


def transforms_apart_mm(first: sitk.Transform, second: sitk.Transform, case: PhantomCase, fixed: str,
                        points: np.ndarray) -> float:
    """Mean distance, over the brain points as the fixed image shows them, between where two
    estimated transforms put them: how far apart two series registered on their own end up."""
    in_fixed = _shown_in(case, fixed, points)
    return float(np.linalg.norm(_mapped(first, in_fixed) - _mapped(second, in_fixed), axis=1).mean())
