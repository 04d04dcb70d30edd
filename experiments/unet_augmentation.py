"""nnU-Net's data augmentation for the segmentation experiment's scoring U-Nets (`[extra] unet_augmentation`).

A segmenter the field would use to read a completed case is an nnU-Net, and nnU-Net never trains
without augmentation: besides the mirroring and the spatial transforms it varies every training
image's noise, blur, brightness, contrast and gamma, so that it reads a tumour by its shape and
its contrast with its surroundings rather than by the exact intensities of its training scans.
A U-Net trained on 14 phantom tumours without any of it scores a synthesized T1C by how close its
rim's brightness is to the training scans' (docs/RESULTS.md: over 11 synthesis models, the
enhancing tumour's recovered Dice follows the rim's brightness). These are nnU-Net's default
intensity transforms and its mirroring, with its probabilities and ranges (nnU-Net v2,
`get_training_transforms`), applied to a whole batch at once with torch so that a step costs
little more (3.7 ms a batch of 16 slices, against about 40 ms for the step). Left out: its
rotation, scaling and low-resolution simulation, which interpolate the label, and its gamma of
the inverted image (probability 0.1). The images are in the
site's standardized scale (healthy tissue near a fixed level, not z-scores), so the noise's
variance is taken relative to each image's own variance.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from pmm_core.training.mirroring import mirrored

NOISE = (0.1, (0.0, 0.1))            # probability per image; variance, relative to the image's
BLUR = (0.2, 0.5, (0.5, 1.0))        # probability per image, then per channel; sigma in pixels
BRIGHTNESS = (0.15, (0.75, 1.25))    # probability per image; multiplier
CONTRAST = (0.15, (0.75, 1.25))      # probability per image; factor about each channel's mean, range kept
GAMMA = (0.3, (0.7, 1.5))            # probability per image; gamma on each channel's range, mean and std kept


def augmented(images: torch.Tensor, targets: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """images (B, C, H, W) and their targets (B, K, H, W) after nnU-Net's intensity transforms (each
    image drawn on its own from `rng`) and a mirroring along each in-plane axis with probability
    1/2 (the targets with it: the trainer's `mirrored`). New tensors; the inputs are unchanged."""
    images = images.clone()
    batch = images.shape[0]
    images = _on_chosen(images, rng.random(batch) < NOISE[0], rng, _noise)
    images = _blur(images, (rng.random(batch) < BLUR[0])[:, None] & (rng.random(images.shape[:2]) < BLUR[1]), rng)
    images = _on_chosen(images, rng.random(batch) < BRIGHTNESS[0], rng,
                        lambda picked, rng: picked * _per_image(rng, BRIGHTNESS[1], len(picked)))
    images = _on_chosen(images, rng.random(batch) < CONTRAST[0], rng, _contrast)
    images = _on_chosen(images, rng.random(batch) < GAMMA[0], rng, _gamma)
    return mirrored(images, targets, rng)


def _on_chosen(images: torch.Tensor, chosen: np.ndarray, rng: np.random.Generator,
               transform: Callable[[torch.Tensor, np.random.Generator], torch.Tensor]) -> torch.Tensor:
    """`images` with the `chosen` ones (a bool per image) replaced by `transform` of them."""
    if chosen.any():
        images[chosen] = transform(images[chosen], rng)
    return images


def _per_image(rng: np.random.Generator, bounds: tuple[float, float], count: int) -> torch.Tensor:
    """(count, 1, 1, 1) values drawn uniformly within `bounds`, one per image."""
    return torch.from_numpy(rng.uniform(*bounds, (count, 1, 1, 1))).float()


def _value_range(picked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return picked.amin(dim=(2, 3), keepdim=True), picked.amax(dim=(2, 3), keepdim=True)


def _noise(picked: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    variance = _per_image(rng, NOISE[1], len(picked))
    scale = picked.flatten(2).std(dim=2)[:, :, None, None]
    noise = torch.from_numpy(rng.standard_normal(tuple(picked.shape), dtype=np.float32))
    return picked + noise * variance.sqrt() * scale


def _blur(images: torch.Tensor, chosen: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """A separable Gaussian of its own sigma on each chosen channel of each image."""
    if not chosen.any():
        return images
    sigma = torch.from_numpy(rng.uniform(*BLUR[2], chosen.shape)).float()            # (B, C)
    offsets = torch.arange(-2, 3, dtype=torch.float32)
    kernels = torch.exp(-offsets[None, None] ** 2 / (2 * sigma[..., None] ** 2))
    kernels = (kernels / kernels.sum(-1, keepdim=True)).flatten(0, 1)                # (B*C, 5)
    flat = images.flatten(0, 1)[None]                                                # (1, B*C, H, W)
    rows = F.conv2d(F.pad(flat, (0, 0, 2, 2), mode="replicate"), kernels[:, None, :, None], groups=flat.shape[1])
    both = F.conv2d(F.pad(rows, (2, 2, 0, 0), mode="replicate"), kernels[:, None, None, :], groups=flat.shape[1])
    mask = torch.from_numpy(chosen)[..., None, None]
    return torch.where(mask, both[0].view_as(images), images)


def _contrast(picked: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    factor = _per_image(rng, CONTRAST[1], len(picked))
    mean = picked.mean(dim=(2, 3), keepdim=True)
    low, high = _value_range(picked)
    return torch.maximum(torch.minimum((picked - mean) * factor + mean, high), low)


def _gamma(picked: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    gamma = _per_image(rng, GAMMA[1], len(picked))
    mean, std = picked.mean(dim=(2, 3), keepdim=True), picked.std(dim=(2, 3), keepdim=True)
    low, high = _value_range(picked)
    span = (high - low).clamp(min=1e-7)
    curved = ((picked - low) / span) ** gamma * span + low
    curved = (curved - curved.mean(dim=(2, 3), keepdim=True)) / curved.std(dim=(2, 3), keepdim=True).clamp(min=1e-7)
    return curved * std + mean
