"""pix2pix (Isola et al., CVPR 2017) as a pmm model: one U-Net and one PatchGAN for one fixed task.

The U-Net takes the task's source modalities stacked as channels (one-to-one, or many-to-one as
the PMM-Synth paper trains its baselines) and writes the target; the 70x70 PatchGAN is
conditional, seeing the sources next to the real or synthesized target, as in pix2pix. The model
speaks pmm's model interface (six-channel in and out, `sc`, dataset ids, `outputs`) so the shared
trainer, evaluation and synthesis run it unchanged; it refuses any other task with one line.
"""
from __future__ import annotations

import torch
from torch import nn

from pmm_core.config.methods import Pix2PixOptions
from pmm_core.errors import PmmError
from pmm_core.modalities import MODALITIES, NUM_MODALITIES
from pmm_core.models.discriminator import PatchDiscriminator
from pmm_core.models.unet import UNetGenerator


class Pix2Pix(nn.Module):
    def __init__(self, options: Pix2PixOptions):
        super().__init__()
        self.options = options
        self.source_indices = [MODALITIES.index(m) for m in options.sources]
        self.target_index = MODALITIES.index(options.target)
        self.embedding = None  # no dataset embedding: one model per site and task
        self.generator = UNetGenerator(len(self.source_indices), 1, options.base_channels, options.depth, options.dropout)
        self.discriminators = nn.ModuleList([PatchDiscriminator(options.discriminator_channels,
                                                                options.discriminator_layers)])

    def forward(self, x: torch.Tensor, sc: torch.Tensor, dataset_ids: torch.Tensor,
                outputs: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 6, H, W), sc (6,) must name the task's sources, outputs (6,) at most its target →
        (B, 6, H, W): the target's channel synthesized, the others zero."""
        sources = _names(sc)
        targets = [self.options.target] if outputs is None else [m for m in _names(outputs) if m not in sources]
        for target in targets or [self.options.target]:
            reason = pix2pix_refusal(self.options, sources, target)
            if reason:
                raise PmmError(reason)
        synthesis = self.generator(x[:, self.source_indices])
        zero = torch.zeros_like(synthesis)
        return torch.cat([synthesis if i == self.target_index else zero for i in range(NUM_MODALITIES)], dim=1)

    def judge(self, index: int, sources: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """The PatchGAN's scores for modality `index` (only the target has a discriminator)."""
        if index != self.target_index:
            raise PmmError(f"this pix2pix model judges only {self.options.target}, not {MODALITIES[index]}")
        return self.discriminators[0](sources, image)


def _names(flags: torch.Tensor) -> list[str]:
    return [MODALITIES[i] for i in torch.nonzero(flags.cpu() > 0).flatten().tolist()]


def pix2pix_refusal(options: Pix2PixOptions, sources: list[str], target: str) -> str | None:
    """Why a pix2pix model of `options` cannot run `sources -> target` (None when it can)."""
    if target != options.target:
        return f"this pix2pix model was trained for {options.task_name} only; it cannot synthesize {target}"
    if list(sources) != list(options.sources):
        return (f"this pix2pix model was trained for {options.task_name} only: it needs exactly the sources "
                f"{', '.join(options.sources)} (given {', '.join(sources) or 'none'})")
    return None
