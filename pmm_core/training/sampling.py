"""The batch sampler a trainer uses, from its options: one rule for the centralized trainer and
every federated site.

`mcbs` (the paper's default) groups slices by (site, availability); `mcbs = false` is the naive
batch-1 baseline. `[pathology] oversampling` above 1 (beyond the paper) draws, inside each MCBS
group, a slice with pathology (`pmm_core.data.pathology`) that many times as often as one
without: the group's batches keep their number and their (site, availability), they are drawn
with replacement instead of a permutation. 1 is the paper's sampler exactly.
"""
from __future__ import annotations

import numpy as np

from pmm_core.config.training import TrainingOptions
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.samplers import MCBSBatchSampler, NaiveBatchSampler, ShardedBatchSampler


def pathology_weights(dataset: SliceDataset, oversampling: float) -> np.ndarray:
    """Per slice of `dataset`: `oversampling` where it has pathology, 1 elsewhere."""
    return np.where(dataset.pathology_flags(), float(oversampling), 1.0)


def make_sampler(dataset: SliceDataset, options: TrainingOptions, rank: int = 0, world_size: int = 1) -> ShardedBatchSampler:
    if not options.mcbs:
        return NaiveBatchSampler(len(dataset), options.seed, rank, world_size)
    oversampling = options.pathology.oversampling
    weights = pathology_weights(dataset, oversampling) if oversampling > 1 else None
    return MCBSBatchSampler(dataset.group_keys(), options.batch_size, options.seed, rank, world_size, weights=weights)
