"""pix2pix (Isola et al., CVPR 2017) as a pmm method: one fixed task, trained on the cases that
have its sources and target.

Followed: a U-Net generator with skip connections, a conditional 70x70 PatchGAN, L = λ·L1 + L_GAN
with λ = 100, Adam (2e-4, β 0.5/0.999) and a constant-then-linear learning rate (pmm's schedule).
Chosen: the LSGAN objective (pix2pix's `--gan_mode lsgan`), the one PMM-Synth uses, so the
comparison differs in the networks and the conditioning, not the GAN loss. One model per site and
task, as the PMM-Synth paper trains its one-to-one baselines; many-to-one tasks stack the sources
as input channels. The losses are pmm's selective ones with the reconstruction weight 0 and only
the target decoded, which for pix2pix is exactly λ·L1 + L_GAN on the target.
"""
from __future__ import annotations

import numpy as np
import torch

from pmm_core.config.model import LossWeights
from pmm_core.config.training import TrainingOptions
from pmm_core.tasks import Task
from pmm_core.methods.method import Condition, Method
from pmm_core.training.objective import Objective, selective_objective
from pmm_core.modalities import MODALITIES, NUM_MODALITIES
from pmm_core.models.pix2pix import Pix2Pix, pix2pix_refusal
from pmm_core.training.conditions import task_condition


def _condition(availability: torch.Tensor, rng: np.random.Generator, options: TrainingOptions,
               epochs_done: float) -> Condition:
    outputs = torch.zeros(NUM_MODALITIES)
    outputs[MODALITIES.index(options.pix2pix.target)] = 1.0
    return Condition(task_condition(options.pix2pix.sources), outputs)


def _objective(options: TrainingOptions) -> Objective:
    return selective_objective(LossWeights(syn=options.pix2pix.l1_weight, rec=0.0,
                                           adv=options.pix2pix.adversarial_weight))


def _task(options: TrainingOptions) -> Task:
    return Task(tuple(options.pix2pix.sources), options.pix2pix.target)


def _inputs(options: TrainingOptions, available: list[str], target: str) -> list[str]:
    """Its task's sources when the case has them all (other modalities are not its inputs)."""
    return list(options.pix2pix.sources) if set(options.pix2pix.sources) <= set(available) else available


PIX2PIX = Method(name="pix2pix", label="pix2pix", build=lambda options: Pix2Pix(options.pix2pix),
                 condition=_condition, objective=_objective,
                 required=lambda options: (*options.pix2pix.sources, options.pix2pix.target),
                 tasks=lambda options, tasks: [_task(options)],
                 refusal=lambda options, sources, target: pix2pix_refusal(options.pix2pix, sources, target),
                 inputs=_inputs, synthesizes=lambda options: (options.pix2pix.target,))
