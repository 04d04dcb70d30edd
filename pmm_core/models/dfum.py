"""DFUM: fusion of the source modalities' features with the common features.

Hard integration takes the element-wise max and mean over the sources; soft integration weighs
the sources by a softmax over learned per-modality score maps (one 3x3 conv head per modality,
so each modality learns where it is informative). Choice (the Uni-Synth supplementary is not
public): the three fused maps and the common-encoder features are concatenated and mixed by one
modulated 1x1 conv block back to the bottleneck width, so the fusion has a fixed input size
whatever the number of sources.
"""
from __future__ import annotations

import torch
from torch import nn

from pmm_core.models.blocks import ConvBlock
from pmm_core.modalities import NUM_MODALITIES


class DFUM(nn.Module):
    def __init__(self, channels: int, modulation: tuple[int, int] | None):
        super().__init__()
        self.score_heads = nn.ModuleList(nn.Conv2d(channels, 1, 3, padding=1) for _ in range(NUM_MODALITIES))
        self.mix = ConvBlock(4 * channels, channels, kernel=1, modulation=modulation)

    def forward(self, source_features: list[torch.Tensor], source_indices: list[int], common: torch.Tensor,
                embedding: torch.Tensor | None) -> torch.Tensor:
        """source_features: one (B, C, h, w) map per source, in the order of `source_indices`."""
        stacked = torch.stack(source_features)                                   # (S, B, C, h, w)
        hard_max = stacked.max(dim=0).values
        hard_mean = stacked.mean(dim=0)
        scores = torch.stack([self.score_heads[i](f) for i, f in zip(source_indices, source_features)])
        soft = (torch.softmax(scores, dim=0) * stacked).sum(dim=0)              # softmax over sources per pixel
        return self.mix(torch.cat([hard_max, hard_mean, soft, common], dim=1), embedding)
