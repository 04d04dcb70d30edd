"""Random mirroring and transposition of a training batch (`[pathology] mirroring` and
`transposing`), beyond the paper.

A site's training split holds few tumours (14 on the full-setting phantom's BraTS), and a third of
the enhancing rim a synthesized T1C misses on unseen cases is generalisation from them
(docs/RESULTS.md). Mirroring each slice at random along each in-plane axis (each with probability
1/2, as nnU-Net mirrors its patches) shows the model every tumour in four placements at no cost
per step. A flip moves voxels and interpolates none, so the targets stay the acquisition's own
values (an interpolating rotation would blur the few-voxel rim the loss is meant to reach); every
channel and the lesion weights of a slice move together.

Transposing (the in-plane axes swapped) adds the other half of a square's eight placements, again
without interpolation. It turns a whole batch at once, with probability 1/2: the slices of one
batch share a shape, and a crop that is not square changes shape when transposed (the network is
fully convolutional, so a transposed batch trains like any other).
"""
from __future__ import annotations

import numpy as np
import torch


def mirrored(image: torch.Tensor, lesion: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """image (B, C, H, W) and lesion (B, H, W) (or any (B, ..., H, W): the segmentation
    experiment's targets) with each slice flipped along H and along W, each
    with probability 1/2, drawn from `rng` (the trainer's condition stream, saved in checkpoints,
    so a resumed run flips as the uninterrupted one would). New tensors; the inputs are unchanged."""
    flips = rng.random((image.shape[0], 2)) < 0.5
    image, lesion = image.clone(), lesion.clone()
    for index, (vertical, horizontal) in enumerate(flips):
        axes = [axis for axis, chosen in ((-2, vertical), (-1, horizontal)) if chosen]
        if axes:
            image[index] = image[index].flip(axes)
            lesion[index] = lesion[index].flip(axes)
    return image, lesion


def transposed(image: torch.Tensor, lesion: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """image (B, C, H, W) and lesion (B, H, W), both with their in-plane axes swapped (to
    (B, C, W, H) and (B, W, H)) with probability 1/2, one draw from `rng` for the whole batch."""
    if rng.random() < 0.5:
        return image.transpose(-2, -1).contiguous(), lesion.transpose(-2, -1).contiguous()
    return image, lesion
