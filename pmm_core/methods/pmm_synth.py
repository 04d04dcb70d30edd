"""PMM-Synth, the paper's method: random source sets per batch (with the clinically common ones
favoured), every available modality decoded, selective supervision with L_syn, L_rec and L_adv."""
from __future__ import annotations

import numpy as np
import torch

from pmm_core.config.training import TrainingOptions
from pmm_core.methods.method import Condition, Method
from pmm_core.models.pmm_synth import PMMSynth
from pmm_core.training.conditions import sample_condition
from pmm_core.training.objective import Objective, selective_objective


def _condition(availability: torch.Tensor, rng: np.random.Generator, options: TrainingOptions,
               epochs_done: float) -> Condition:
    return Condition(sample_condition(availability, rng, options.conditions.scenario_probability))


def _objective(options: TrainingOptions) -> Objective:
    return selective_objective(options.losses)


PMM_SYNTH = Method(name="pmm-synth", label="PMM-Synth", build=lambda options: PMMSynth(options.model),
                   condition=_condition, objective=_objective)
