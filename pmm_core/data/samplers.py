"""Batch samplers: MCBS (the paper's Modality-Consistent Batch Scheduler) and the naive batch-1 sampler it is compared with.

The model takes one synthesis condition per batch, so a batch must not mix availability
patterns or sites. MCBS groups samples by (dataset_id, M), pads each group to a multiple of the
batch size by random duplication, shuffles within groups, cuts batches and shuffles the batches.
The naive alternative keeps every sample alone (batch 1), which is what the paper's baseline
trainer did and what makes it slow.

Both are deterministic per (seed, epoch) and shard across DDP ranks by batch: the epoch's batch
list is padded (by repeating randomly chosen batches) to a multiple of the world size and rank r
takes batches r, r+W, r+2W, … so every rank runs the same number of steps on whole batches.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class ShardedBatchSampler(Sampler[list[int]]):
    """Common epoch/seed/shard handling; subclasses say how one epoch's batches are built."""

    def __init__(self, num_samples: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in a world of size {world_size}")
        self.num_samples = num_samples
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Call before each epoch (as with DistributedSampler) so every epoch has its own order.
        `start_batch` skips this rank's first batches: a resumed run continues mid-epoch without
        repeating or skipping a batch."""
        self.epoch = epoch
        self.start_batch = start_batch

    def _rng(self, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch])

    def build_batches(self, rng: np.random.Generator) -> list[list[int]]:
        raise NotImplementedError

    def epoch_batches(self, epoch: int | None = None) -> list[list[int]]:
        """All ranks' batches of an epoch, padded to a multiple of the world size."""
        rng = self._rng(self.epoch if epoch is None else epoch)
        batches = self.build_batches(rng)
        shortfall = (-len(batches)) % self.world_size
        if shortfall and batches:
            extra = rng.choice(len(batches), size=shortfall, replace=shortfall > len(batches))
            batches += [list(batches[i]) for i in extra]
        return batches

    def shard(self, batches: list[list[int]]) -> list[list[int]]:
        return batches[self.rank::self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.shard(self.epoch_batches())[self.start_batch:])

    def __len__(self) -> int:
        return self.total_batches() // self.world_size - self.start_batch

    def total_batches(self) -> int:
        raise NotImplementedError


class MCBSBatchSampler(ShardedBatchSampler):
    """Modality-Consistent Batch Scheduler: every batch has one (dataset_id, M).

    `weights` (one per sample, beyond the paper): inside a group whose weights differ, the group's
    padded count of samples is drawn with replacement in proportion to them instead of permuted
    (pathology oversampling); a group of equal weights, and every group without `weights`, is
    sampled exactly as the paper's MCBS."""

    def __init__(self, group_keys: Sequence[Hashable], batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1,
                 weights: Sequence[float] | None = None):
        super().__init__(len(group_keys), seed, rank, world_size)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if weights is not None and (len(weights) != len(group_keys) or min(weights, default=1.0) <= 0):
            raise ValueError("weights must be one positive number per sample")
        self.batch_size = batch_size
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        groups: dict[Hashable, list[int]] = defaultdict(list)
        for index, key in enumerate(group_keys):
            groups[key].append(index)
        self.groups = [np.asarray(groups[key], dtype=np.int64) for key in sorted(groups)]

    def build_batches(self, rng: np.random.Generator) -> list[list[int]]:
        batches: list[list[int]] = []
        for members in self.groups:
            shortfall = (-len(members)) % self.batch_size
            weights = None if self.weights is None else self.weights[members]
            if weights is not None and np.ptp(weights) > 0:
                padded = rng.choice(members, size=len(members) + shortfall, replace=True, p=weights / weights.sum())
            else:
                extra = rng.choice(members, size=shortfall, replace=shortfall > len(members))
                padded = rng.permutation(np.concatenate([members, extra]))
            batches += [padded[i:i + self.batch_size].tolist() for i in range(0, len(padded), self.batch_size)]
        order = rng.permutation(len(batches))
        return [batches[i] for i in order]

    def total_batches(self) -> int:
        count = sum(-(-len(members) // self.batch_size) for members in self.groups)
        return count + (-count) % self.world_size


class NaiveBatchSampler(ShardedBatchSampler):
    """Random order, batch size 1: the baseline MCBS is measured against."""

    def build_batches(self, rng: np.random.Generator) -> list[list[int]]:
        return [[int(i)] for i in rng.permutation(self.num_samples)]

    def total_batches(self) -> int:
        return self.num_samples + (-self.num_samples) % self.world_size
