"""Linear baselines that give a synthesis number its meaning.

Both are fitted by least squares inside the brain of each case, against the ground truth (an
oracle fit, so they are strong): `match` maps the first source linearly onto the target
(a·s + b); `linear` combines all sources (Σ aᵢ·sᵢ + b) and exists for many-to-one tasks.
"""
from __future__ import annotations

import numpy as np


def least_squares_fit(sources: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sources (S, Z, H, W), target (Z, H, W), mask (Z, H, W) → fitted target, clipped to [0, 1], 0 outside."""
    inside = mask > 0
    design = np.concatenate([sources[:, inside].T, np.ones((int(inside.sum()), 1))], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, target[inside], rcond=None)
    fitted = np.tensordot(coefficients[:-1], sources, axes=1) + coefficients[-1]
    return np.where(inside, np.clip(fitted, 0.0, 1.0), 0.0).astype(np.float32)
