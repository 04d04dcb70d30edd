"""PMM-Synth: Uni-Synth backbone with DFUM, PFM, PatchGAN discriminators."""
from __future__ import annotations

from pmm_core.models.parameter_groups import GROUP_NAMES, parameter_counts, parameter_groups
from pmm_core.models.pmm_synth import PMMSynth, build_model

__all__ = ["GROUP_NAMES", "PMMSynth", "build_model", "parameter_counts", "parameter_groups"]
