"""MM-GAN (Sharma & Hamarneh, "Missing MRI Pulse Sequence Synthesis Using Multi-Modal Generative
Adversarial Network", IEEE TMI 39(4), 2020) as a pmm model.

As in the paper: one pix2pix U-Net over all modalities, every missing input imputed with zeros
(the paper's best imputation), all modalities synthesized in one pass, and implicit
conditioning: the real inputs are put back in place of their reconstructions, so the loss and the
discriminator only ever see real inputs next to synthesized missing ones. The discriminator is
a PatchGAN over all channels with one score map per modality (real inputs labelled real in a
synthesized image, as in the released code).

Where pmm adapts it: six modalities instead of four; intensities in [0, 1] (sigmoid output, see
`unet.py`); the discriminator is conditioned on the generator's input (the real sources, zeros
elsewhere) where the released script passes the full real set; a modality a site lacks is
neither an input nor supervised (selective supervision, `pmm_core.methods.mmgan`). No dataset
embedding: several sites are simply pooled.
"""
from __future__ import annotations

import torch
from torch import nn

from pmm_core.config.methods import MMGANOptions
from pmm_core.modalities import NUM_MODALITIES
from pmm_core.models.discriminator import PatchDiscriminator
from pmm_core.models.unet import UNetGenerator


class MMGAN(nn.Module):
    def __init__(self, options: MMGANOptions):
        super().__init__()
        self.options = options
        self.embedding = None
        self.generator = UNetGenerator(NUM_MODALITIES, NUM_MODALITIES, options.base_channels, options.depth,
                                       options.dropout)
        self.discriminators = nn.ModuleList([PatchDiscriminator(options.discriminator_channels,
                                                                options.discriminator_layers,
                                                                image_channels=NUM_MODALITIES,
                                                                out_channels=NUM_MODALITIES)])

    def forward(self, x: torch.Tensor, sc: torch.Tensor, dataset_ids: torch.Tensor,
                outputs: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 6, H, W), sc (6,) the real inputs, outputs (6,) the channels to return (None: all) →
        (B, 6, H, W): inputs as given (implicit conditioning), the rest synthesized, zero outside `outputs`."""
        condition = sc.to(x.device, x.dtype)[None, :, None, None]
        inputs = x * condition                                   # zero imputation of every non-input
        completed = inputs + (1 - condition) * self.generator(inputs)
        if outputs is not None:
            completed = completed * outputs.to(x.device, x.dtype)[None, :, None, None]
        return completed

    def judge_all(self, sources: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """(B, 6, h, w) patch scores, one map per modality, of six-channel `images` given `sources`."""
        return self.discriminators[0](sources, images)
