"""Which parameters travel and which stay at the site: the arrays of a model split by the
federation's `PartitionOptions` (pmm_core.config.partition, where the option and the group
names are declared and checked)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from pmm_core.config.partition import GROUP_NAMES, PartitionOptions
from pmm_core.models.parameter_groups import parameter_groups
from pmm_core.models.pmm_synth import PMMSynth


def trained_groups(partition: PartitionOptions, personalize_only: bool) -> tuple[str, ...]:
    """What a site trains, decided here once for both optimizers (pmm_core.training.step.build_optimizers).

    In a federated round every group learns on the site's data: the shared ones are averaged
    afterwards, the personal ones stay. In a personalization run the global shared network is
    frozen and only what the site keeps learns.
    """
    return partition.personal if personalize_only else GROUP_NAMES


def _named(model: PMMSynth, groups: tuple[str, ...]) -> dict[str, torch.nn.Parameter]:
    named = parameter_groups(model)
    return {name: parameter for group in groups for name, parameter in named[group].items()}


def shared_arrays(model: PMMSynth, partition: PartitionOptions) -> dict[str, np.ndarray]:
    """The shared parameters as C-ordered float32 numpy arrays (whatever the model's memory
    layout), by full parameter name (what travels)."""
    return {name: p.detach().cpu().numpy().astype(np.float32, order="C", copy=True) for name, p in _named(model, partition.shared).items()}


def personal_state(model: PMMSynth, partition: PartitionOptions) -> dict[str, torch.Tensor]:
    """The personal parameters (kept in the site's state folder, never sent)."""
    return {name: p.detach().cpu().clone() for name, p in _named(model, partition.personal).items()}


def load_named(model: PMMSynth, values: Mapping[str, np.ndarray | torch.Tensor], groups: tuple[str, ...]) -> None:
    """Copy `values` into the parameters of `groups`; the names must match exactly."""
    targets = _named(model, groups)
    missing, unexpected = sorted(set(targets) - set(values)), sorted(set(values) - set(targets))
    if missing or unexpected:
        problem = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise ValueError(f"parameters do not match the model ({problem}; {len(missing)} missing, {len(unexpected)} unexpected)")
    with torch.no_grad():
        for name, parameter in targets.items():
            value = torch.as_tensor(np.asarray(values[name]) if not isinstance(values[name], torch.Tensor) else values[name])
            if tuple(value.shape) != tuple(parameter.shape):
                raise ValueError(f"parameter {name!r} has shape {tuple(value.shape)}, the model expects {tuple(parameter.shape)}")
            parameter.copy_(value.to(parameter.dtype))
