"""Convolutional blocks of the generator: conv → instance norm → [PFM] → ReLU.

`modulation=None` builds the block without PFM and with identical names for everything else,
so a `pfm = false` model loads the backbone weights of a `pfm = true` one (the ablation changes
nothing but PFM).
"""
from __future__ import annotations

import torch
from torch import nn

from pmm_core.models.modulation import FeatureModulation


class ConvBlock(nn.Module):
    """(B, in, H, W) → (B, out, H/stride, W/stride), or ×2 with `up=True` (transposed conv)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, up: bool = False,
                 activation: bool = True, modulation: tuple[int, int] | None = None):
        super().__init__()
        if up:
            self.conv = nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1)
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2,
                                  padding_mode="reflect" if kernel > 3 else "zeros")
        self.norm = nn.InstanceNorm2d(out_channels)
        self.modulation = FeatureModulation(modulation[0], out_channels, modulation[1]) if modulation else None
        self.activation = nn.ReLU(inplace=True) if activation else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None) -> torch.Tensor:
        x = self.norm(self.conv(x))
        if self.modulation is not None:
            x = self.modulation(x, embedding)
        return self.activation(x)


class ResidualBlock(nn.Module):
    """Two 3x3 conv blocks with a skip connection (pix2pix ResNet generator), each modulated."""

    def __init__(self, channels: int, modulation: tuple[int, int] | None):
        super().__init__()
        self.first = ConvBlock(channels, channels, modulation=modulation)
        self.second = ConvBlock(channels, channels, activation=False, modulation=modulation)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None) -> torch.Tensor:
        return x + self.second(self.first(x, embedding), embedding)


class BlockSequence(nn.ModuleList):
    """A sequence of blocks that all receive the dataset embedding."""

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None) -> torch.Tensor:  # type: ignore[override]
        for block in self:
            x = block(x, embedding)
        return x


def encoder(in_channels: int, base: int, downsamplings: int, modulation: tuple[int, int] | None) -> BlockSequence:
    """7x7 stem then stride-2 convolutions doubling the width: (B, in, H, W) → (B, base·2^d, H/2^d, W/2^d)."""
    blocks = [ConvBlock(in_channels, base, kernel=7, modulation=modulation)]
    for level in range(downsamplings):
        blocks.append(ConvBlock(base * 2 ** level, base * 2 ** (level + 1), stride=2, modulation=modulation))
    return BlockSequence(blocks)


class Decoder(nn.Module):
    """(B, base·2^d, h, w) → (B, 1, H, W) in [0, 1]: transposed convs, then a 7x7 conv and a sigmoid."""

    def __init__(self, base: int, downsamplings: int, modulation: tuple[int, int] | None):
        super().__init__()
        self.blocks = BlockSequence(
            ConvBlock(base * 2 ** level, base * 2 ** (level - 1), up=True, modulation=modulation)
            for level in range(downsamplings, 0, -1)
        )
        self.out = nn.Conv2d(base, 1, 7, padding=3, padding_mode="reflect")

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None) -> torch.Tensor:
        return torch.sigmoid(self.out(self.blocks(x, embedding)))
