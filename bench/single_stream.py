"""A plain single-stream pix2pix-style generator with pmm's depth and width, for comparison only.

pix2pix's ResNet generator: one encoder (7x7 stem, stride-2 convolutions) over all inputs
stacked with the condition channels, the residual trunk, one decoder that outputs all six
modalities. It has the same blocks, widths and depth as pmm's Uni-Synth generator but no
modality-specific encoders, no DFUM fusion, no per-modality decoders and no PFM, which is
exactly what the multi-stream design adds. It takes the same inputs (x, sc, embedding) so
pmm's training step runs it unchanged.
"""
from __future__ import annotations

import torch
from torch import nn

from pmm_core.config.model import ModelOptions
from pmm_core.modalities import NUM_MODALITIES
from pmm_core.models import build_model
from pmm_core.models.blocks import BlockSequence, ConvBlock, ResidualBlock, encoder
from pmm_core.models.pmm_synth import PMMSynth


class SingleStreamGenerator(nn.Module):
    def __init__(self, options: ModelOptions):
        super().__init__()
        base, levels = options.base_channels, options.downsamplings
        self.encoder = encoder(2 * NUM_MODALITIES, base, levels, None)
        self.trunk = BlockSequence(ResidualBlock(base * 2 ** levels, None) for _ in range(options.residual_blocks))
        self.up = BlockSequence(ConvBlock(base * 2 ** level, base * 2 ** (level - 1), up=True)
                                for level in range(levels, 0, -1))
        self.out = nn.Conv2d(base, NUM_MODALITIES, 7, padding=3, padding_mode="reflect")

    def forward(self, x: torch.Tensor, sc: torch.Tensor, embedding: torch.Tensor | None,
                outputs: torch.Tensor | None = None) -> torch.Tensor:
        """pmm's generator contract: six channels, zero where `outputs` asks for none (the single
        head computes all six anyway)."""
        batch, _, height, width = x.shape
        condition = sc.to(x.dtype)[None, :, None, None]
        inputs = torch.cat([x * condition, condition.expand(batch, -1, height, width)], dim=1)
        image = torch.sigmoid(self.out(self.up(self.trunk(self.encoder(inputs, None), None), None)))
        return image if outputs is None else image * (outputs > 0).to(image.dtype)[None, :, None, None]


def single_stream_model(options: ModelOptions) -> PMMSynth:
    """pmm's model (same six discriminators and losses) with the single-stream generator inside."""
    model = build_model(options.model_copy(update={"pfm": False}))
    model.generator = SingleStreamGenerator(options)
    return model
