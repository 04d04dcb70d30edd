"""The recovered share of a missing modality's Dice and its paired-bootstrap interval over cases."""
from __future__ import annotations

import numpy as np
import pytest

from pmm.experiments.recovery import recovered_share, share_interval


def test_share_is_the_synthesis_gain_over_the_modality_cost() -> None:
    assert recovered_share(np.array([0.9, 0.7]), np.array([0.5, 0.3]), np.array([0.7, 0.5])) == pytest.approx(0.5)
    assert recovered_share(0.6, 0.6, 0.7) is None                      # the modality costs nothing


def test_interval_holds_the_share_and_narrows_with_more_cases() -> None:
    rng = np.random.default_rng(3)
    real = rng.uniform(0.7, 0.95, 6)
    missing = real - rng.uniform(0.1, 0.5, 6)
    synthesized = missing + rng.uniform(0.0, 0.4, 6)
    share = recovered_share(real, missing, synthesized)
    low, high = share_interval(real, missing, synthesized)
    assert low < share < high
    more = [np.tile(a, 4) for a in (real, missing, synthesized)]    # the same cases, four times as many
    low4, high4 = share_interval(*more)
    assert low <= low4 < share < high4 <= high and high4 - low4 < 0.7 * (high - low)
    same = share_interval(np.full(5, 0.9), np.full(5, 0.5), np.full(5, 0.7))
    assert same == pytest.approx((0.5, 0.5))                          # every case agrees: no spread


def test_no_interval_from_one_case_or_when_the_cost_is_mostly_absent() -> None:
    assert share_interval(np.array([0.9]), np.array([0.5]), np.array([0.7])) is None
    real = np.array([0.5, 0.5, 0.45, 0.55])       # the modality helps one case as much as it hurts another
    assert share_interval(real, np.full(4, 0.5), np.full(4, 0.6)) is None
