"""The training methods pmm can run, and the options tables of the two peer methods.

`method = "pmm-synth"` (the default) is the paper's model; `pix2pix` and `mmgan` are the
comparison methods of its Tables 1-2, trained through the same trainer, data and evaluation
(`pmm_core.methods`). Their options are TOML tables like `[model]`:

    method = "pix2pix"
    [pix2pix]
    sources = ["T1"]
    target = "T1C"

    method = "mmgan"
    [mmgan]
    curriculum_fraction = 0.5
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pmm_core.modalities import MODALITIES, canonical_modality

MethodName = Literal["pmm-synth", "pix2pix", "mmgan"]
METHOD_NAMES: tuple[str, ...] = ("pmm-synth", "pix2pix", "mmgan")


class UNetOptions(BaseModel):
    """The pix2pix U-Net generator (Isola et al. 2017) both peers use, and its PatchGAN."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    base_channels: int = Field(64, ge=1, description="width of the first convolution (pix2pix: 64, capped at 8x)")
    depth: int = Field(6, ge=1, le=8, description="stride-2 levels; the crop must be a multiple of 2^depth "
                                                  "(pix2pix's unet_256: 8; 6 fits 192x192 crops)")
    dropout: float = Field(0.5, ge=0, lt=1, description="dropout in the three innermost decoder levels (pix2pix: 0.5)")
    discriminator_channels: int = Field(64, ge=1)
    discriminator_layers: int = Field(3, ge=1, description="3 = the 70x70 PatchGAN")


class Pix2PixOptions(UNetOptions):
    """One model for one task: `sources` → `target` (one-to-one, or many-to-one with the sources
    stacked as input channels)."""

    sources: list[str] = Field(default_factory=list, description="the task's input modalities")
    target: str | None = Field(None, description="the task's output modality")
    l1_weight: float = Field(100.0, ge=0, description="lambda of the L1 term (pix2pix: 100)")
    adversarial_weight: float = Field(1.0, ge=0)

    @field_validator("sources")
    @classmethod
    def _canonical_sources(cls, sources: list[str]) -> list[str]:
        named = {canonical_modality(s) for s in sources}
        return [m for m in MODALITIES if m in named]

    @field_validator("target")
    @classmethod
    def _canonical_target(cls, target: str | None) -> str | None:
        return canonical_modality(target) if target is not None else None

    @model_validator(mode="after")
    def _target_not_a_source(self) -> "Pix2PixOptions":
        if self.target is not None and self.target in self.sources:
            raise ValueError(f"the target {self.target} is also a source")
        return self

    @property
    def task_name(self) -> str:
        return f"{','.join(self.sources)}->{self.target}"


class MMGANOptions(UNetOptions):
    """MM-GAN (Sharma & Hamarneh 2020): one U-Net over all six modalities."""

    curriculum_fraction: float = Field(
        0.5, ge=0, le=1, description="share of training over which the number of missing inputs grows from one to "
                                     "all but one (the original: 30 of 60 epochs); afterwards every scenario is drawn")
    l1_weight: float = Field(0.9, ge=0, description="lambda of the L1 term on the synthesized modalities (MM-GAN: 0.9)")
    adversarial_weight: float = Field(0.1, ge=0, description="1 - lambda (MM-GAN: 0.1)")
