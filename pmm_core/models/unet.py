"""The pix2pix U-Net generator (Isola et al., CVPR 2017, "Image-to-Image Translation with
Conditional Adversarial Networks"), as the authors' PyTorch code builds it.

Encoder: 4x4 stride-2 convolutions, LeakyReLU(0.2), instance norm except on the outermost and
innermost levels; decoder: ReLU, 4x4 stride-2 transposed convolutions, instance norm, dropout 0.5
in the three levels after the innermost (pix2pix's only noise); each decoder level takes the
mirrored encoder level's features as a skip connection. Widths double from `base` up to 8x.

Where pmm adapts it: the output ends in a sigmoid instead of tanh, since pmm's intensities are
in [0, 1]; instance norm (pix2pix's batch norm at its batch size of 1 is the same); `depth`
levels instead of a fixed eight, so a 192x192 crop (2^6 x 3) fits. Both peer methods (pix2pix,
MM-GAN, whose generator is this U-Net too) use it.
"""
from __future__ import annotations

import torch
from torch import nn

from pmm_core.errors import PmmError


class UNetGenerator(nn.Module):
    """(B, in_channels, H, W) → (B, out_channels, H, W) in [0, 1]; H and W multiples of 2^depth."""

    def __init__(self, in_channels: int, out_channels: int, base: int = 64, depth: int = 6, dropout: float = 0.5):
        super().__init__()
        widths = [base * min(2 ** level, 8) for level in range(depth)]
        self.divisor = 2 ** depth
        self.down = nn.ModuleList()
        for level, width in enumerate(widths):
            layers: list[nn.Module] = [] if level == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(in_channels if level == 0 else widths[level - 1], width, 4, 2, 1))
            if 0 < level < depth - 1:
                layers.append(nn.InstanceNorm2d(width))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for level in reversed(range(depth)):
            incoming = widths[level] if level == depth - 1 else 2 * widths[level]
            outgoing = out_channels if level == 0 else widths[level - 1]
            layers = [nn.ReLU(), nn.ConvTranspose2d(incoming, outgoing, 4, 2, 1)]
            if level > 0:
                layers.append(nn.InstanceNorm2d(outgoing))
                if level >= depth - 4 and level < depth - 1 and dropout > 0:
                    layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % self.divisor or x.shape[-1] % self.divisor:
            raise PmmError(f"input size {x.shape[-2]}x{x.shape[-1]} must be a multiple of {self.divisor} "
                           f"for this U-Net (depth {len(self.down)})")
        skips = []
        h = x
        for layer in self.down:
            h = layer(h)
            skips.append(h)
        h = skips.pop()
        for index, layer in enumerate(self.up):
            if index:
                h = torch.cat([h, skips.pop()], dim=1)
            h = layer(h)
        return torch.sigmoid(h)
