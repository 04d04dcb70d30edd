"""The training methods, declared once each: PMM-Synth (the paper's) and its peers pix2pix and MM-GAN."""
from __future__ import annotations

from torch import nn

from pmm_core.config.training import TrainingOptions
from pmm_core.methods.method import Condition, Method
from pmm_core.methods.mmgan import MMGAN_METHOD
from pmm_core.methods.pix2pix import PIX2PIX
from pmm_core.methods.pmm_synth import PMM_SYNTH
from pmm_core.training.objective import Objective

METHODS: dict[str, Method] = {m.name: m for m in (PMM_SYNTH, PIX2PIX, MMGAN_METHOD)}


def method_of(options: TrainingOptions) -> Method:
    """The method the options train (their `method` field; pydantic has checked the name)."""
    return METHODS[options.method]


def build_method_model(options: TrainingOptions) -> nn.Module:
    """The networks of the options' method, untrained."""
    return method_of(options).build(options)


__all__ = ["Condition", "METHODS", "Method", "Objective", "build_method_model", "method_of"]
