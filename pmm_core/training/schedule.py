"""Learning-rate schedule. The paper does not state one; pmm keeps the rate constant for the
first half of training and decays it linearly to 0 over the second half (pix2pix's recipe)."""
from __future__ import annotations


def linear_decay_factor(step: int, total_steps: int) -> float:
    """Multiplier of the base rate at `step` (0-based) out of `total_steps`."""
    half = total_steps // 2
    if step < half or total_steps <= 1:
        return 1.0
    return max(0.0, 1.0 - (step - half) / max(1, total_steps - half))
