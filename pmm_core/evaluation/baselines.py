"""Linear baselines that give a synthesis number its meaning.

Both are least-squares fits inside the brain, learnt from the site's *training* split (the data
the model saw) and applied to the evaluated slices:
- `match`: the first source mapped linearly onto the target (a·s + b);
- `linear`: a linear combination of all sources (Σ aᵢ·sᵢ + b), for many-to-one tasks.
`oracle` refits the best of them on each evaluated case against its own ground truth. No method
can do that (it reads the answer); it is reported as the ceiling of linear intensity mapping,
which matters where the intensity standardization leaves a case's target scale unpredictable
(under the percentile scheme: DWI, whose upper percentile sits in the lesion).
"""
from __future__ import annotations

import numpy as np

MAX_FIT_CASES = 40  # enough cases for four coefficients; keeps the fit to seconds on large sites


class NormalEquations:
    """Accumulates XᵀX and Xᵀy over cases, so a fit over many volumes needs no concatenation."""

    def __init__(self, num_sources: int):
        self.xtx = np.zeros((num_sources + 1, num_sources + 1))
        self.xty = np.zeros(num_sources + 1)

    def add(self, sources: np.ndarray, target: np.ndarray, mask: np.ndarray) -> None:
        """sources (S, Z, H, W), target and mask (Z, H, W)."""
        inside = mask > 0
        design = np.concatenate([sources[:, inside].T, np.ones((int(inside.sum()), 1))], axis=1).astype(np.float64)
        self.xtx += design.T @ design
        self.xty += design.T @ target[inside].astype(np.float64)

    def solve(self) -> np.ndarray | None:
        if self.xtx[-1, -1] == 0:
            return None
        return np.linalg.lstsq(self.xtx, self.xty, rcond=None)[0]


def apply_fit(coefficients: np.ndarray, sources: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Σ aᵢ·sᵢ + b inside the brain, clipped to [0, 1], 0 outside."""
    fitted = np.tensordot(coefficients[:-1], sources, axes=1) + coefficients[-1]
    return np.where(mask > 0, np.clip(fitted, 0.0, 1.0), 0.0).astype(np.float32)


def least_squares_fit(sources: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The per-case (oracle) fit: sources (S, Z, H, W) fitted to this target, then applied."""
    equations = NormalEquations(sources.shape[0])
    equations.add(sources, target, mask)
    return apply_fit(equations.solve(), sources, mask)
