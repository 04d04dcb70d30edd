"""Seeded case-level train/val/test split: every case in exactly one split.

Splitting by case (not by slice) keeps neighbouring slices of one patient out of both training
and evaluation. With three or more cases, val and test each get at least one case.
"""
from __future__ import annotations

import random

from pmm_core.config.site import SplitOptions

SPLITS = ("train", "val", "test")


def assign_splits(case_ids: list[str], options: SplitOptions) -> dict[str, list[str]]:
    ordered = sorted(case_ids)
    random.Random(options.seed).shuffle(ordered)
    count = len(ordered)
    n_val = round(options.val_fraction * count)
    n_test = round(options.test_fraction * count)
    if count >= 3:
        n_val = max(n_val, 1 if options.val_fraction > 0 else 0)
        n_test = max(n_test, 1 if options.test_fraction > 0 else 0)
    n_val = min(n_val, max(count - 1, 0))
    n_test = min(n_test, max(count - 1 - n_val, 0))
    return {
        "val": sorted(ordered[:n_val]),
        "test": sorted(ordered[n_val:n_val + n_test]),
        "train": sorted(ordered[n_val + n_test:]),
    }
