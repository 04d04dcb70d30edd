"""PatchGAN discriminator (pix2pix), one per modality, trained with LSGAN objectives.

Conditional, as in pix2pix: it sees the batch's source images next to the real or synthesised
modality, so it judges whether the output fits these inputs, not only whether it looks real.
"""
from __future__ import annotations

import torch
from torch import nn

from pmm_core.modalities import NUM_MODALITIES


class PatchDiscriminator(nn.Module):
    """(B, 6 sources + 1 image, H, W) → (B, 1, h, w) patch scores (70x70 receptive field at 3 layers)."""

    def __init__(self, channels: int = 64, layers: int = 3):
        super().__init__()
        modules: list[nn.Module] = [nn.Conv2d(NUM_MODALITIES + 1, channels, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        width = channels
        for level in range(1, layers + 1):
            previous, width = width, channels * min(2 ** level, 8)
            stride = 2 if level < layers else 1
            modules += [nn.Conv2d(previous, width, 4, stride, 1), nn.InstanceNorm2d(width), nn.LeakyReLU(0.2, True)]
        modules.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.net = nn.Sequential(*modules)

    def forward(self, sources: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([sources, image], dim=1))
