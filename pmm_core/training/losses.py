"""Selective supervision (the paper's equations 6-9), each term masked per sample and modality.

With m the availability (B, 6) and sc the synthesis condition (6,):
  synthesis weight  w_syn = (1 − sc)·m   (targets that have ground truth)
  reconstruction    w_rec = sc·m         (sources)
  L_syn = Σ w_syn·‖ŷ − y‖₁ / Σ w_syn     L_rec = Σ w_rec·‖ŷ − y‖₁ / Σ w_rec
  L_adv = Σ w_syn·mean((D_i(s, ŷ_i) − 1)²) / Σ w_syn                              (LSGAN, generator)
  L_D   = Σ w_syn·½[mean((D_i(s, y_i) − 1)²) + mean(D_i(s, ŷ_i)²)] / Σ w_syn     (LSGAN, discriminators)
  L_G   = λ_syn·L_syn + λ_rec·L_rec + λ_adv·L_adv (100, 30, 1).
L1 is the mean over pixels of each image. A modality with m = 0 has weight 0 in every term, and
its discriminator is not even evaluated, so it receives exactly zero gradient.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from pmm_core.config.model import LossWeights
from pmm_core.models.pmm_synth import PMMSynth


@dataclass
class LossMasks:
    synthesis: torch.Tensor       # (B, 6)
    reconstruction: torch.Tensor  # (B, 6)

    @classmethod
    def build(cls, availability: torch.Tensor, sc: torch.Tensor) -> "LossMasks":
        sc = sc.to(availability)[None]
        return cls(synthesis=(1 - sc) * availability, reconstruction=sc * availability)


def _weighted(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ w·v / Σ w over (B, 6); zero (still differentiable) when nothing is supervised."""
    return (values * weights).sum() / weights.sum().clamp(min=1.0)


def _l1(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (prediction - target).abs().mean(dim=(2, 3))


def _patch_scores(model: PMMSynth, sources: torch.Tensor, images: torch.Tensor, weights: torch.Tensor,
                  target: float) -> torch.Tensor:
    """(B, 6) mean LSGAN error (D − target)² per sample, only for modalities with any weight."""
    scores = torch.zeros_like(weights)
    for index in torch.nonzero(weights.sum(dim=0) > 0).flatten().tolist():
        output = model.discriminators[index](sources, images[:, index:index + 1])
        scores[:, index] = ((output.float() - target) ** 2).mean(dim=(1, 2, 3))
    return scores


def generator_losses(model: PMMSynth, prediction: torch.Tensor, truth: torch.Tensor, sources: torch.Tensor,
                     masks: LossMasks, weights: LossWeights) -> dict[str, torch.Tensor]:
    errors = _l1(prediction.float(), truth.float())
    losses = {
        "syn": _weighted(errors, masks.synthesis),
        "rec": _weighted(errors, masks.reconstruction),
        "adv": _weighted(_patch_scores(model, sources, prediction, masks.synthesis, 1.0), masks.synthesis),
    }
    losses["g"] = weights.syn * losses["syn"] + weights.rec * losses["rec"] + weights.adv * losses["adv"]
    return losses


def discriminator_loss(model: PMMSynth, prediction: torch.Tensor, truth: torch.Tensor, sources: torch.Tensor,
                       masks: LossMasks) -> torch.Tensor:
    real = _patch_scores(model, sources, truth, masks.synthesis, 1.0)
    fake = _patch_scores(model, sources, prediction.detach(), masks.synthesis, 0.0)
    return _weighted(0.5 * (real + fake), masks.synthesis)
