"""What a training step minimises: a method's generator and discriminator losses, as one value.

The step (pmm_core.training.step) takes an `Objective` and knows no method; each method
(pmm_core.methods) builds its own. `selective_objective` is the paper's selective supervision
(pmm_core.training.losses) with given weights: PMM-Synth's, and pix2pix's with its one target.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from pmm_core.config.model import LossWeights
from pmm_core.training.losses import LossMasks, discriminator_loss, generator_losses

# (model, prediction, truth, sources, masks) -> {"g", "syn", "rec", "adv"}: the generator's losses
GeneratorLosses = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor, LossMasks], dict[str, torch.Tensor]]
# (model, prediction, truth, sources, masks) -> L_D
DiscriminatorLoss = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor, LossMasks], torch.Tensor]


@dataclass(frozen=True)
class Objective:
    generator: GeneratorLosses
    discriminator: DiscriminatorLoss


def selective_objective(weights: LossWeights) -> Objective:
    """pmm's selective losses with `weights` (PMM-Synth's; pix2pix's with rec 0 and its one target)."""
    return Objective(lambda model, prediction, truth, sources, masks:
                     generator_losses(model, prediction, truth, sources, masks, weights), discriminator_loss)
