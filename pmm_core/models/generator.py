"""The Uni-Synth generator extended to six modalities.

- A common encoder sees all six (source-only, zero-filled) channels plus six condition channels
  (SC broadcast), so it knows which inputs are real.
- Six modality-specific encoders; only the batch's sources run (the rest would encode zeros).
- DFUM fuses the source features with the common features at the bottleneck.
- Residual blocks (pix2pix ResNet trunk), then six decoders, one per modality, each ending in a
  sigmoid so outputs are in the data range [0, 1].
Every convolutional block carries its own PFM when `pfm` is on.

Streams are activated by availability, as in the paper: the encoders of the sources run, and of
the decoders only those named in `outputs`. Training asks for the modalities the batch has
(MCBS makes that one set per batch): sources are reconstructed (L_rec), available targets
synthesised (L_syn), and a modality the batch lacks would get no loss, so its decoder is not
run. Inference asks for the requested target only.

Output contract: always (B, 6, H, W), channel i for modality i; a channel whose decoder did not
run is exactly zero. A fixed-shape tensor rather than a dict keeps every consumer (the masked
losses, which weight those channels by 0 anyway; evaluation; the DDP gradient average) indexing
modalities the same way, at the cost of a few zero-filled planes.
"""
from __future__ import annotations

import torch
from torch import nn

from pmm_core.config.model import ModelOptions
from pmm_core.errors import PmmError
from pmm_core.modalities import NUM_MODALITIES
from pmm_core.models.blocks import BlockSequence, Decoder, ResidualBlock, encoder
from pmm_core.models.dfum import DFUM


class UniSynthGenerator(nn.Module):
    def __init__(self, options: ModelOptions):
        super().__init__()
        modulation = (options.embedding_dim, options.modulation_hidden) if options.pfm else None
        base, levels = options.base_channels, options.downsamplings
        bottleneck = base * 2 ** levels
        self.divisor = 2 ** levels
        self.common_encoder = encoder(2 * NUM_MODALITIES, base, levels, modulation)
        self.modality_encoders = nn.ModuleList(encoder(1, base, levels, modulation) for _ in range(NUM_MODALITIES))
        self.fusion = DFUM(bottleneck, modulation)
        self.trunk = BlockSequence(ResidualBlock(bottleneck, modulation) for _ in range(options.residual_blocks))
        self.decoders = nn.ModuleList(Decoder(base, levels, modulation) for _ in range(NUM_MODALITIES))

    def forward(self, x: torch.Tensor, sc: torch.Tensor, embedding: torch.Tensor | None,
                outputs: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 6, H, W), sc (6,) in {0,1}, embedding (B, E) or None, outputs (6,) in {0,1}: the
        decoders to run (None: all six) → (B, 6, H, W) in [0, 1], zero where no decoder ran."""
        batch, _, height, width = x.shape
        if height % self.divisor or width % self.divisor:
            raise PmmError(f"input size {height}x{width} must be a multiple of {self.divisor} for this model")
        # which streams run is read from a CPU copy: the training step passes SC and outputs on the
        # host, so no step waits for the device to learn them
        source_indices = [int(i) for i in torch.nonzero(sc.cpu() > 0).flatten().tolist()]
        if not source_indices:
            raise PmmError("the synthesis condition has no source modality")
        condition = sc.to(x.device, x.dtype)[None, :, None, None]
        sources = x * condition
        common = self.common_encoder(torch.cat([sources, condition.expand(batch, -1, height, width)], dim=1), embedding)
        features = [self.modality_encoders[i](sources[:, i:i + 1], embedding) for i in source_indices]
        fused = self.trunk(self.fusion(features, source_indices, common, embedding), embedding)
        wanted = [True] * NUM_MODALITIES if outputs is None else [bool(v) for v in (outputs.cpu() > 0).tolist()]
        if not any(wanted):
            raise PmmError("no output modality was asked for")
        planes = {i: decoder(fused, embedding) for i, decoder in enumerate(self.decoders) if wanted[i]}
        zero = torch.zeros_like(next(iter(planes.values())))
        return torch.cat([planes.get(i, zero) for i in range(NUM_MODALITIES)], dim=1)
