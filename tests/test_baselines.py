"""The linear baselines: normal equations accumulated case by case give the same fit as one
least-squares solve over all voxels, and a fit learnt on training cases is applied unchanged."""
from __future__ import annotations

import numpy as np

from pmm_core.evaluation.baselines import NormalEquations, apply_fit, least_squares_fit


def test_accumulated_fit_equals_one_solve_over_all_cases() -> None:
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(3):
        sources = rng.uniform(0, 1, (2, 4, 8, 8))
        target = 0.6 * sources[0] - 0.2 * sources[1] + 0.1 + rng.normal(0, 0.01, (4, 8, 8))
        mask = rng.uniform(0, 1, (4, 8, 8)) > 0.3
        cases.append((sources, target, mask))
    equations = NormalEquations(2)
    for sources, target, mask in cases:
        equations.add(sources, target, mask)
    design = np.concatenate([np.concatenate([s[:, m].T, np.ones((m.sum(), 1))], axis=1) for s, _, m in cases])
    truth = np.concatenate([t[m] for _, t, m in cases])
    expected = np.linalg.lstsq(design, truth, rcond=None)[0]
    np.testing.assert_allclose(equations.solve(), expected, atol=1e-9)
    np.testing.assert_allclose(equations.solve(), [0.6, -0.2, 0.1], atol=0.01)


def test_fit_is_clipped_to_the_data_range_and_zero_outside_the_brain() -> None:
    sources = np.linspace(0, 1, 16).reshape(1, 1, 4, 4)
    mask = np.ones((1, 4, 4), dtype=bool)
    mask[0, 0, 0] = False
    fitted = apply_fit(np.array([3.0, -0.5]), sources, mask)
    assert fitted.min() == 0.0 and fitted.max() == 1.0 and fitted[0, 0, 0] == 0.0
    oracle = least_squares_fit(sources, sources[0] * 0.5, mask)
    np.testing.assert_allclose(oracle[mask], sources[0][mask] * 0.5, atol=1e-6)


def test_a_task_no_training_case_serves_has_no_fit() -> None:
    assert NormalEquations(1).solve() is None
