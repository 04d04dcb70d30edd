"""MCBS and the naive sampler: grouping, coverage, counts, determinism, DDP shards."""
from __future__ import annotations

import math
from collections import Counter

import pytest

from pmm_core.data.samplers import MCBSBatchSampler, NaiveBatchSampler

# three sites, four (dataset_id, M) groups of uneven sizes
KEYS = [(0, (1, 1, 1, 1, 1, 1))] * 37 + [(1, (1, 1, 0, 1, 0, 0))] * 10 + [(1, (1, 0, 0, 0, 0, 1))] * 3 + [(2, (1, 1, 1, 1, 0, 0))] * 16


def test_every_batch_has_one_group_and_full_size() -> None:
    sampler = MCBSBatchSampler(KEYS, batch_size=8, seed=3)
    for batch in sampler:
        assert len(batch) == 8 and len({KEYS[i] for i in batch}) == 1


def test_every_sample_at_least_once_and_the_number_of_batches() -> None:
    sampler = MCBSBatchSampler(KEYS, batch_size=8, seed=3)
    batches = list(sampler)
    expected = math.ceil(37 / 8) + math.ceil(10 / 8) + math.ceil(3 / 8) + math.ceil(16 / 8)
    assert len(batches) == len(sampler) == expected
    seen = Counter(i for batch in batches for i in batch)
    assert set(seen) == set(range(len(KEYS)))


def test_small_group_padded_by_duplication() -> None:
    batches = list(MCBSBatchSampler(KEYS, batch_size=8, seed=0))
    small = [b for b in batches if KEYS[b[0]][1] == (1, 0, 0, 0, 0, 1)]
    assert len(small) == 1 and set(small[0]) == {47, 48, 49}


def test_deterministic_per_seed_and_epoch() -> None:
    a, b = MCBSBatchSampler(KEYS, 8, seed=1), MCBSBatchSampler(KEYS, 8, seed=1)
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(MCBSBatchSampler(KEYS, 8, seed=2)) != list(MCBSBatchSampler(KEYS, 8, seed=1))


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_ddp_shards_are_disjoint_equal_and_cover_the_epoch(world_size: int) -> None:
    shards = [MCBSBatchSampler(KEYS, 8, seed=5, rank=r, world_size=world_size) for r in range(world_size)]
    for shard in shards:
        shard.set_epoch(2)
    lists = [list(s) for s in shards]
    assert len({len(batches) for batches in lists}) == 1 and all(len(b) == len(s) for b, s in zip(lists, shards))
    epoch = shards[0].epoch_batches()
    positions = [list(range(r, len(epoch), world_size)) for r in range(world_size)]
    assert sorted(p for ps in positions for p in ps) == list(range(len(epoch)))  # disjoint positions, all covered
    for rank, batches in enumerate(lists):
        assert batches == [epoch[p] for p in positions[rank]]
    assert set(i for b in lists for batch in b for i in batch) == set(range(len(KEYS)))


def test_naive_sampler_is_batch_one_random_order() -> None:
    sampler = NaiveBatchSampler(len(KEYS), seed=0)
    batches = list(sampler)
    assert all(len(b) == 1 for b in batches) and sorted(b[0] for b in batches) == list(range(len(KEYS)))
    assert [b[0] for b in batches] != list(range(len(KEYS)))
    assert batches == list(NaiveBatchSampler(len(KEYS), seed=0))
    shards = [list(NaiveBatchSampler(len(KEYS), seed=0, rank=r, world_size=4)) for r in range(4)]
    assert len({len(s) for s in shards}) == 1


def test_start_batch_continues_an_epoch_mid_way() -> None:
    sampler = MCBSBatchSampler(KEYS, 8, seed=1)
    sampler.set_epoch(3)
    full = list(sampler)
    sampler.set_epoch(3, start_batch=4)
    assert list(sampler) == full[4:] and len(sampler) == len(full) - 4
