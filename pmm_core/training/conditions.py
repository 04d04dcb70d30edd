"""Synthesis condition SC per batch: which available modalities are given as sources.

SC ⊆ M with at least one source and at least one available target. With probability
`scenario_probability` one of the paper's clinically common source sets is used when the batch
allows it (only T1+T2+FLAIR, only T1+T2, only T1); otherwise a uniformly drawn number of sources
is picked at random among the available modalities. A batch with a single available modality
(some TTI cases) has no possible target: its SC is M and the step trains reconstruction only.
"""
from __future__ import annotations

import numpy as np
import torch

from pmm_core.modalities import MODALITIES, NUM_MODALITIES

CLINICAL_SCENARIOS: tuple[tuple[str, ...], ...] = (("T1", "T2", "FLAIR"), ("T1", "T2"), ("T1",))


def sample_condition(availability: torch.Tensor, rng: np.random.Generator, scenario_probability: float = 0.3) -> torch.Tensor:
    """availability (6,) or (B, 6) in {0,1} → SC (6,) float. For a batch, SC ⊆ every sample's M."""
    common = availability.reshape(-1, NUM_MODALITIES).min(dim=0).values > 0
    available = [i for i in range(NUM_MODALITIES) if common[i]]
    sc = torch.zeros(NUM_MODALITIES)
    if len(available) < 2:
        sc[available] = 1.0
        return sc
    feasible = [
        [MODALITIES.index(m) for m in scenario] for scenario in CLINICAL_SCENARIOS
        if all(common[MODALITIES.index(m)] for m in scenario) and len(scenario) < len(available)
    ]
    if feasible and rng.random() < scenario_probability:
        sources = feasible[int(rng.integers(len(feasible)))]
    else:
        count = int(rng.integers(1, len(available)))
        sources = rng.choice(available, size=count, replace=False).tolist()
    sc[sources] = 1.0
    return sc


def task_condition(sources: list[str]) -> torch.Tensor:
    """SC of a fixed evaluation task, e.g. ['T1', 'T2'] for `T1,T2->FLAIR`."""
    sc = torch.zeros(NUM_MODALITIES)
    sc[[MODALITIES.index(m) for m in sources]] = 1.0
    return sc
