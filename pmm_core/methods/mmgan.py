"""MM-GAN (Sharma & Hamarneh, IEEE TMI 2020) as a pmm method: its curriculum and its losses.

Followed (the paper and its released training script):
- scenarios: every non-empty proper subset of the available modalities as the inputs, drawn
  uniformly; a curriculum first shows the easy ones (one missing input) and widens to harder ones
  (more missing) before drawing from all of them (the original: 1, then up to 2, then 3 missing
  over its first 30 of 60 epochs);
- implicit conditioning (in the model): the real inputs replace their reconstructions before the
  loss and the discriminator, so the loss is zero on the real inputs and the discriminator never
  sees a reconstruction of one;
- L_G = λ·L1(synthesized, truth) + (1 − λ)·L_GAN with λ = 0.9, L1 only over the synthesized
  modalities; LSGAN with a PatchGAN that scores each modality's channel, real inputs labelled
  real in a synthesized image.
Adapted: six modalities; the curriculum's stages are fractions of training (`curriculum_fraction`,
default half, the original's 30 of 60 epochs) growing one missing input at a time to all but
one; a modality the batch lacks is neither input nor supervised, and its channel is zero in what
the discriminator sees, real or synthesized (pmm's selective supervision, since no site has all
six); cases of several sites are pooled without a dataset embedding.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from pmm_core.config.training import TrainingOptions
from pmm_core.methods.method import Condition, Method
from pmm_core.training.objective import Objective
from pmm_core.modalities import NUM_MODALITIES
from pmm_core.models.mmgan import MMGAN
from pmm_core.training.losses import LossMasks, l1_per_image, weighted_mean


def most_missing(available: int, progress: float, fraction: float) -> int:
    """The curriculum: how many of `available` inputs may be missing after `progress` of training
    (0..1). One at first, one more at each of equal stages over `fraction`, then all but one."""
    hardest = max(available - 1, 1)
    if fraction <= 0 or progress >= fraction:
        return hardest
    return 1 + int((hardest - 1) * max(progress, 0.0) / fraction)


def scenario_condition(availability: torch.Tensor, rng: np.random.Generator, options: TrainingOptions,
                       epochs_done: float) -> Condition:
    """Inputs = the batch's available modalities minus a missing set drawn uniformly among those the
    curriculum allows. A batch with one modality has nothing to synthesize: it is the input."""
    common = availability.reshape(-1, NUM_MODALITIES).min(dim=0).values > 0
    available = [i for i in range(NUM_MODALITIES) if common[i]]
    sc = torch.zeros(NUM_MODALITIES)
    sc[available] = 1.0
    if len(available) < 2:
        return Condition(sc)
    limit = most_missing(len(available), epochs_done / options.epochs, options.mmgan.curriculum_fraction)
    scenarios = [missing for count in range(1, limit + 1) for missing in itertools.combinations(available, count)]
    sc[list(scenarios[int(rng.integers(len(scenarios)))])] = 0.0
    return Condition(sc)


def _judged(model: MMGAN, sources: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B, 6) LSGAN error per modality's score map against `labels` (B, 6)."""
    scores = model.judge_all(sources, images).float()
    return ((scores - labels[:, :, None, None]) ** 2).mean(dim=(2, 3))


def _available(masks: LossMasks) -> torch.Tensor:
    return masks.synthesis + masks.reconstruction


def generator_losses(model: MMGAN, prediction: torch.Tensor, truth: torch.Tensor, sources: torch.Tensor,
                     masks: LossMasks, options: TrainingOptions) -> dict[str, torch.Tensor]:
    available = _available(masks)
    errors = l1_per_image(prediction.float(), truth.float(), masks.pixels)
    seen = prediction * available[:, :, None, None]           # a modality the batch lacks stays zero
    losses = {"syn": weighted_mean(errors, masks.synthesis),
              "rec": weighted_mean(errors, masks.reconstruction),  # zero: implicit conditioning
              "adv": weighted_mean(_judged(model, sources, seen, torch.ones_like(available)), available)}
    losses["g"] = options.mmgan.l1_weight * losses["syn"] + options.mmgan.adversarial_weight * losses["adv"]
    return losses


def discriminator_loss(model: MMGAN, prediction: torch.Tensor, truth: torch.Tensor, sources: torch.Tensor,
                       masks: LossMasks) -> torch.Tensor:
    """½[real set judged real + completed set judged real on its inputs, fake on its syntheses],
    over the available modalities; nothing (no gradient) when a batch synthesizes nothing."""
    if not masks.judged:  # decided on the host: no wait for the device
        return torch.zeros((), device=prediction.device)
    available = _available(masks)
    real = _judged(model, sources, truth, torch.ones_like(available))
    fake = _judged(model, sources, (prediction * available[:, :, None, None]).detach(), masks.reconstruction)
    return weighted_mean(0.5 * (real + fake), available)


def _objective(options: TrainingOptions) -> Objective:
    return Objective(lambda model, prediction, truth, sources, masks:
                     generator_losses(model, prediction, truth, sources, masks, options), discriminator_loss)


MMGAN_METHOD = Method(name="mmgan", label="MM-GAN", build=lambda options: MMGAN(options.mmgan),
                      condition=scenario_condition, objective=_objective)
