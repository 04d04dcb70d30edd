"""PMM-Synth: dataset embedding + Uni-Synth generator (with PFM) + six PatchGAN discriminators.

The three top-level submodules are the unit of the federated partition (see parameter_groups):
`embedding` is the site's personal D_emb, `generator` holds the backbone and the per-block
modulation MLPs, `discriminators` the six PatchGANs.
"""
from __future__ import annotations

import torch
from torch import nn

from pmm_core.config.model import ModelOptions
from pmm_core.modalities import NUM_MODALITIES
from pmm_core.models.discriminator import PatchDiscriminator
from pmm_core.models.generator import UniSynthGenerator
from pmm_core.models.modulation import DatasetEmbedding


class PMMSynth(nn.Module):
    def __init__(self, options: ModelOptions):
        super().__init__()
        self.options = options
        self.embedding = DatasetEmbedding(options.encoding_dim, options.embedding_dim) if options.pfm else None
        self.generator = UniSynthGenerator(options)
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(options.discriminator_channels, options.discriminator_layers) for _ in range(NUM_MODALITIES)
        )

    def forward(self, x: torch.Tensor, sc: torch.Tensor, dataset_ids: torch.Tensor,
                outputs: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 6, H, W) with missing and target channels zero-filled, sc (6,), dataset_ids (B,),
        outputs (6,): the modalities to decode (None: all) → ŷ (B, 6, H, W), zero where not decoded."""
        embedding = self.embedding(dataset_ids) if self.embedding is not None else None
        return self.generator(x, sc, embedding, outputs)

    def judge(self, index: int, sources: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """Modality `index`'s PatchGAN scores of `image` (B, 1, H, W) given the batch's `sources`."""
        return self.discriminators[index](sources, image)


def build_model(options: ModelOptions | None = None) -> PMMSynth:
    return PMMSynth(options or ModelOptions())
