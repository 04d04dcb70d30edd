"""PatchGAN discriminator (pix2pix), one per modality, trained with LSGAN objectives.

Conditional, as in pix2pix: it sees the batch's source images next to the real or synthesised
modality, so it judges whether the output fits these inputs, not only whether it looks real.
"""
from __future__ import annotations

import torch
from torch import nn

from pmm_core.modalities import NUM_MODALITIES


class PatchDiscriminator(nn.Module):
    """(B, 6 sources + `image_channels`, H, W) → (B, `out_channels`, h, w) patch scores (70x70
    receptive field at 3 layers). PMM-Synth and pix2pix judge one image (one score map); MM-GAN's
    discriminator judges all six channels at once and scores each (six maps)."""

    def __init__(self, channels: int = 64, layers: int = 3, image_channels: int = 1, out_channels: int = 1):
        super().__init__()
        modules: list[nn.Module] = [nn.Conv2d(NUM_MODALITIES + image_channels, channels, 4, 2, 1),
                                    nn.LeakyReLU(0.2, True)]
        width = channels
        for level in range(1, layers + 1):
            previous, width = width, channels * min(2 ** level, 8)
            stride = 2 if level < layers else 1
            modules += [nn.Conv2d(previous, width, 4, stride, 1), nn.InstanceNorm2d(width), nn.LeakyReLU(0.2, True)]
        modules.append(nn.Conv2d(width, out_channels, 4, 1, 1))
        self.net = nn.Sequential(*modules)

    def forward(self, sources: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([sources, image], dim=1))
