"""Selective supervision (the paper's equations 6-9), each term masked per sample and modality.

With m the availability (B, 6), sc the synthesis condition (6,) and o the modalities decoded
this step (6,; PMM-Synth: every modality the batch has, so o·m = m; pix2pix: its one target):
  synthesis weight  w_syn = (1 − sc)·m·o   (targets that have ground truth)
  reconstruction    w_rec = sc·m·o         (sources)
  L_syn = Σ w_syn·‖ŷ − y‖₁ / Σ w_syn     L_rec = Σ w_rec·‖ŷ − y‖₁ / Σ w_rec
  L_adv = Σ w_syn·mean((D_i(s, ŷ_i) − 1)²) / Σ w_syn                              (LSGAN, generator)
  L_D   = Σ w_syn·½[mean((D_i(s, y_i) − 1)²) + mean(D_i(s, ŷ_i)²)] / Σ w_syn     (LSGAN, discriminators)
  L_G   = λ_syn·L_syn + λ_rec·L_rec + λ_adv·L_adv (100, 30, 1).
L1 is the mean over pixels of each image (with `[pathology] lesion_weight`, beyond the paper, the
weighted mean with weight 1 + lesion_weight inside the lesion label). A modality with m = 0 has weight 0 in every term, and
its discriminator is not even evaluated, so it receives exactly zero gradient. Discriminators
are reached through the model's `judge(index, sources, image)`, so a model with one PatchGAN
per modality (PMM-Synth) and one with a single target (pix2pix) share these losses.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from pmm_core.config.model import LossWeights


@dataclass
class LossMasks:
    """Per-sample, per-modality loss weights, plus which discriminators have anything to judge.

    `judged` is decided on the host, from the CPU copies of availability, SC and outputs the
    sampler produced, so that a step never waits for the accelerator to learn which
    discriminators to run (a `.tolist()` on a CUDA tensor stalls the launch queue every step)."""

    synthesis: torch.Tensor       # (B, 6)
    reconstruction: torch.Tensor  # (B, 6)
    judged: tuple[int, ...]       # modalities with any synthesis weight, in order
    pixels: torch.Tensor | None = None  # (B, 1, H, W) per-pixel L1 weights (lesion weighting); None: uniform

    @classmethod
    def build(cls, availability: torch.Tensor, sc: torch.Tensor, outputs: torch.Tensor | None = None) -> "LossMasks":
        """From CPU tensors (availability (B, 6), sc (6,), outputs (6,)); move with `.to(device)`."""
        sc = sc.to(availability)[None]
        decoded = availability if outputs is None else availability * outputs.to(availability)[None]
        synthesis = (1 - sc) * decoded
        judged = tuple(int(i) for i in torch.nonzero(synthesis.sum(dim=0) > 0).flatten().tolist())
        return cls(synthesis=synthesis, reconstruction=sc * decoded, judged=judged)

    def to(self, device: torch.device, dtype: torch.dtype = torch.float32) -> "LossMasks":
        pixels = None if self.pixels is None else self.pixels.to(device, dtype, non_blocking=True)
        return LossMasks(self.synthesis.to(device, dtype, non_blocking=True),
                         self.reconstruction.to(device, dtype, non_blocking=True), self.judged, pixels)


def weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ w·v / Σ w over (B, 6); zero (still differentiable) when nothing is supervised."""
    return (values * weights).sum() / weights.sum().clamp(min=1.0)


def l1_per_image(prediction: torch.Tensor, target: torch.Tensor, pixels: torch.Tensor | None = None) -> torch.Tensor:
    """(B, C) mean |ŷ − y| per image; with `pixels` (B, 1, H, W) the weighted mean Σ w·|ŷ − y| / Σ w."""
    errors = (prediction - target).abs()
    if pixels is None:
        return errors.mean(dim=(2, 3))
    return (errors * pixels).sum(dim=(2, 3)) / pixels.sum(dim=(2, 3)).clamp(min=1e-6)


def _patch_scores(model: torch.nn.Module, sources: torch.Tensor, images: torch.Tensor, masks: LossMasks,
                  target: float) -> torch.Tensor:
    """(B, 6) mean LSGAN error (D − target)² per sample, only for the modalities `masks` judges."""
    scores = torch.zeros_like(masks.synthesis)
    for index in masks.judged:
        output = model.judge(index, sources, images[:, index:index + 1])
        scores[:, index] = ((output.float() - target) ** 2).mean(dim=(1, 2, 3))
    return scores


def generator_losses(model: torch.nn.Module, prediction: torch.Tensor, truth: torch.Tensor, sources: torch.Tensor,
                     masks: LossMasks, weights: LossWeights) -> dict[str, torch.Tensor]:
    errors = l1_per_image(prediction.float(), truth.float(), masks.pixels)
    losses = {
        "syn": weighted_mean(errors, masks.synthesis),
        "rec": weighted_mean(errors, masks.reconstruction),
        "adv": weighted_mean(_patch_scores(model, sources, prediction, masks, 1.0), masks.synthesis),
    }
    losses["g"] = weights.syn * losses["syn"] + weights.rec * losses["rec"] + weights.adv * losses["adv"]
    return losses


def discriminator_loss(model: torch.nn.Module, prediction: torch.Tensor, truth: torch.Tensor, sources: torch.Tensor,
                       masks: LossMasks) -> torch.Tensor:
    real = _patch_scores(model, sources, truth, masks, 1.0)
    fake = _patch_scores(model, sources, prediction.detach(), masks, 0.0)
    return weighted_mean(0.5 * (real + fake), masks.synthesis)
