"""How much of the lesion weight each compartment of a site's label gets.

A glioma label holds compartments of very different size: on the phantom's BraTS test cases the
oedema has 8,737 brain voxels, the enhancing rim 2,061 and the necrosis 337. With one weight for
the whole label (`pooled`, each lesion voxel counts the same) the oedema takes four fifths of
what the lesion-weighted L1 adds, and the rim, the only thing T1C is acquired for, a fifth; a
synthesized T1C then draws the rim at about 60 % of its brightness, blurred into a blob
(docs/RESULTS.md). `balanced` gives every compartment of a site's label the same share of the
lesion's weight over the training split: a voxel of compartment v counts N / (K · n_v) times,
with n_v its voxels, N all lesion voxels and K the compartments, so the mean over the lesion stays
1 (the lesion as a whole weighs what it did) and a one-compartment label (ISLES) is unchanged.
Counted inside the brain on the slices the dataset trains on, per dataset id: a federated site
counts its own labels, and no count leaves it.
"""
from __future__ import annotations

from typing import Iterable, Literal

import numpy as np

CompartmentRule = Literal["pooled", "balanced"]
LABEL_VALUES = 256  # labels are stored as uint8


def pooled_shares() -> np.ndarray:
    """(256,) float32: 1 for every label value above 0."""
    shares = np.ones(LABEL_VALUES, dtype=np.float32)
    shares[0] = 0.0
    return shares


def balanced_shares(counts: np.ndarray) -> np.ndarray:
    """(256,) float32 from per-value voxel counts (256,): N / (K · n_v) for each value v > 0 present,
    0 for the background and for values never seen (they cannot occur in these slices)."""
    counts = np.asarray(counts, dtype=np.float64).copy()
    counts[0] = 0
    present = counts > 0
    shares = np.zeros(LABEL_VALUES, dtype=np.float32)
    if present.any():
        shares[present] = counts.sum() / (present.sum() * counts[present])
    return shares


def label_counts(label_slices: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(256,) voxel count per label value over (label, brain mask) slice stacks, inside the brain."""
    counts = np.zeros(LABEL_VALUES, dtype=np.int64)
    for label, brain in label_slices:
        counts += np.bincount(np.asarray(label)[np.asarray(brain) > 0].ravel(), minlength=LABEL_VALUES)
    return counts


def compartment_shares(rule: CompartmentRule, counts: np.ndarray | None = None) -> np.ndarray:
    """The lookup table a lesion map is read through: label value -> its share of the lesion weight."""
    if rule == "pooled":
        return pooled_shares()
    return balanced_shares(counts if counts is not None else np.zeros(LABEL_VALUES))
