"""Named parameter groups, declared once: the federated partition and the optimizers use them.

Groups come from module structure (the `embedding` submodule, `FeatureModulation` modules, the
rest of the `generator`, the `discriminators`), never from matching substrings of names.
"""
from __future__ import annotations

from torch import nn

from pmm_core.config.partition import GROUP_NAMES
from pmm_core.models.modulation import FeatureModulation
from pmm_core.models.pmm_synth import PMMSynth


def parameter_groups(model: PMMSynth) -> dict[str, dict[str, nn.Parameter]]:
    """{group: {full parameter name: parameter}} covering every parameter exactly once."""
    groups: dict[str, dict[str, nn.Parameter]] = {name: {} for name in GROUP_NAMES}
    if model.embedding is not None:
        groups["embedding"] = {f"embedding.{n}": p for n, p in model.embedding.named_parameters()}
    modulation = {id(p) for m in model.generator.modules() if isinstance(m, FeatureModulation) for p in m.parameters()}
    for name, parameter in model.generator.named_parameters(prefix="generator"):
        groups["modulation" if id(parameter) in modulation else "generator"][name] = parameter
    groups["discriminators"] = dict(model.discriminators.named_parameters(prefix="discriminators"))
    return groups


def parameter_counts(model: PMMSynth) -> dict[str, int]:
    """Number of scalars per group, and the total."""
    counts = {name: sum(p.numel() for p in params.values()) for name, params in parameter_groups(model).items()}
    counts["total"] = sum(counts.values())
    return counts
