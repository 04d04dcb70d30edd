"""Model, loss and synthesis-condition options: one code path from the paper-size model
(192x192, 64 base channels, two down-samplings, nine residual blocks) to a tiny test model."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ModelOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    base_channels: int = Field(64, ge=1, description="width of the first convolution (pix2pix: 64)")
    downsamplings: int = Field(2, ge=0, le=5, description="stride-2 convolutions per encoder")
    residual_blocks: int = Field(9, ge=0, description="residual blocks after fusion (pix2pix ResNet-9)")
    pfm: bool = Field(True, description="Personalized Feature Modulation; false is the paper's ablation")
    encoding_dim: int = Field(64, ge=2, description="size of the sinusoidal encoding of the dataset id")
    embedding_dim: int = Field(128, ge=1, description="size of D_emb")
    modulation_hidden: int = Field(64, ge=1, description="hidden width of each block's gamma/beta MLP")
    discriminator_channels: int = Field(64, ge=1)
    discriminator_layers: int = Field(3, ge=1, description="stride-2 layers of each PatchGAN (3 = 70x70 patches)")


class LossWeights(BaseModel):
    """L_G = syn·L_syn + rec·L_rec + adv·L_adv (the paper: 100, 30, 1)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    syn: float = Field(100.0, ge=0)
    rec: float = Field(30.0, ge=0)
    adv: float = Field(1.0, ge=0)


class PathologyOptions(BaseModel):
    """Training that reaches the pathology, beyond the paper. The defaults are pmm's recipe,
    oversampling 4, lesion weight 20 and mirroring (chosen by `pmm experiment pathology` and
    `segmentation`: docs/RESULTS.md); `PathologyOptions.paper()` (`--paper-recipe`, or the keys at
    1, 0 and false in `[pathology]`) is the paper's: MCBS's one permutation per epoch, the plain
    L1 and no augmentation.

    - `oversampling`: inside each MCBS group a slice with pathology (a lesion label on the slice,
      or a hyperintense proxy where the case has no label: `pmm_core.data.pathology`) is drawn this
      many times as often as one without; 1 keeps the paper's one-permutation-per-epoch sampler.
    - `lesion_weight`: the synthesis and reconstruction L1 of a pixel inside the lesion label
      counts 1 + `lesion_weight` times (each image's weighted mean); 0 is the paper's plain L1.
      Only cases with a label are weighted; every method's L1 takes it (PMM-Synth, pix2pix, MM-GAN).
    - `lesion_compartments`: how that weight is spread over a label's compartments: `pooled`
      (every lesion voxel alike) or `balanced` (each compartment, e.g. oedema, enhancing rim and
      necrosis, an equal share over the site's training split; `pmm_core.data.compartments`).
    - `mirroring`: each training slice flipped at random along each in-plane axis (its lesion
      weights with it), so the few tumours of a site's split are seen in four placements
      (`pmm_core.training.mirroring`); false is the paper's (no augmentation).
    - `transposing`: each training batch transposed (its in-plane axes swapped) with probability
      1/2; with mirroring, every tumour in the eight placements of a square, none interpolated.
      Off by default: measured no better than mirroring alone (docs/RESULTS.md).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    oversampling: float = Field(4.0, ge=1.0, le=100.0, description="draw weight of a slice with pathology (1: paper)")
    lesion_weight: float = Field(20.0, ge=0.0, le=1000.0, description="extra L1 weight inside the lesion label (0: paper)")
    lesion_compartments: Literal["pooled", "balanced"] = Field(
        "pooled", description="the lesion weight per voxel alike (pooled) or per label compartment alike (balanced)")
    mirroring: bool = Field(True, description="flip each training slice at random along each in-plane axis (false: paper)")
    transposing: bool = Field(False, description="swap each training batch's in-plane axes at random (measured, off)")

    @classmethod
    def paper(cls) -> "PathologyOptions":
        """The paper's recipe: no oversampling, no lesion weight, no mirroring or transposing."""
        return cls(oversampling=1.0, lesion_weight=0.0, mirroring=False, transposing=False)


class ConditionOptions(BaseModel):
    """How the synthesis condition SC of a batch is drawn."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    scenario_probability: float = Field(
        0.3, ge=0, le=1,
        description="extra probability of a clinically common source set (T1+T2+FLAIR, T1+T2, T1) when feasible",
    )
