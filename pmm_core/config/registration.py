"""How rigid registration is estimated: `[preprocess.registration]` in a site TOML.

The defaults were chosen by measurement on native-size phantom scans (24 settings on the TTG, TTI
and ISLES pairs, errors against the phantom's known motion; `bench/prepare_speed.py` repeats
the comparison with the earlier settings): a three-level pyramid at 8, 4 and 2 mm in-plane, 20 %
of each level's voxels inside the head (about 2 % of the full-resolution voxels), a 64-bin
histogram, the head mask grown by 10 mm, and each level stopped once it has converged instead
of after a fixed 200 iterations. 32 bins, 5 % sampling or a 5 mm margin each cost 0.2-0.4 mm of
mean error; a 4-2 pyramid is as accurate but less tolerant of large motion. Estimating at 2 mm and applying the
transform once at full resolution keeps the error well under a millimetre while costing seconds
instead of a minute per pair.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RegistrationOptions(BaseModel):
    """Settings of the rigid mutual-information registration of one modality onto the reference."""

    model_config = ConfigDict(extra="forbid")

    level_spacings_mm: list[float] = Field(
        default_factory=lambda: [8.0, 4.0, 2.0],
        description="voxel size of each pyramid level, coarse to fine; an axis already coarser (thick slices) "
                    "keeps its own spacing",
    )
    sampling_fraction: float = Field(0.2, gt=0, le=1, description="share of a level's voxels sampled (inside the head mask)")
    min_samples: int = Field(5000, ge=100, description="at least this many samples per level (small coarse levels)")
    max_iterations: int = Field(100, ge=1, description="per level; most levels converge earlier (min_step)")
    initial_step: float = Field(1.0, gt=0, description="first optimiser step, in mm of the largest voxel shift")
    min_step: float = Field(1e-3, gt=0, description="converged once the halved step falls below this (mm)")
    histogram_bins: int = Field(64, ge=8, le=256)
    head_mask: bool = Field(True, description="sample only inside the fixed image's head (Otsu), not the air")
    head_margin_mm: float = Field(10.0, ge=0, description="the head mask grown by this much: its edge carries the "
                                                          "strongest alignment signal")
    seed: int = 1

    @field_validator("level_spacings_mm")
    @classmethod
    def _coarse_to_fine(cls, value: list[float]) -> list[float]:
        if not value or any(v <= 0 for v in value):
            raise ValueError("give one or more positive spacings in mm, coarse to fine, e.g. [8, 4, 2]")
        if any(a < b for a, b in zip(value, value[1:])):
            raise ValueError("spacings must go from coarse to fine, e.g. [8, 4, 2]")
        return value
