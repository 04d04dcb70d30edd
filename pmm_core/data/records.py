"""Typed records of what `pmm prepare` writes and everything else reads back: each case's
`meta.json` and the site's `fingerprint.json` (nnU-Net keeps its plans JSON behind a typed
wrapper the same way). A field is read by attribute, so a typo fails where it is written, and a
file that does not match names itself in one line.

Unknown keys are ignored on reading, so a cache written by an older pmm still opens (its case
signature, which includes the cache format, decides whether the case is prepared again).
"""
from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from pmm_core.data.intensity import SiteStandardization, VolumeIntensity
from pmm_core.errors import PmmError


class Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class NativeImage(Record):
    """One modality as acquired: voxels per axis and spacing (mm)."""

    size: list[int]
    spacing: list[float]


class GridGeometry(Record):
    """The working grid in patient space (LPS), so a synthesis can be put back there."""

    size: list[int]
    spacing: list[float]
    origin: list[float]
    direction: list[float]


class CaseMeta(Record):
    """`cases/<case>/meta.json`."""

    case_id: str
    modalities: list[str]
    reference: str                              # the modality whose space the case is in
    shape: list[int]                            # (slices, modalities present, H, W)
    has_label: bool
    geometry: GridGeometry
    native: dict[str, NativeImage]
    intensity: dict[str, VolumeIntensity]       # each modality's intensities in scanner units
    transforms: dict[str, list[float]]          # rigid reference → modality: Euler angles (rad), translation (mm)
    transform_centers: dict[str, list[float]]   # their rotation centres (LPS mm)
    brain_fraction: list[float]                 # per slice: how much of the crop is brain
    signature: str                              # source files + options: decides reuse

    @property
    def slices(self) -> int:
        return self.shape[0]


class SizeRange(Record):
    min: list[int]
    median: list[float]
    max: list[int]


class FingerprintCase(Record):
    modalities: list[str]
    slices: int


class SiteFingerprint(Record):
    """`<SITE>/fingerprint.json`: what the site's prepared data looks like, read instead of the cache."""

    site: str
    dataset_id: int
    layout: str
    modalities: list[str]
    preprocess: dict                            # the site's preprocessing options, as prepared
    crop_size: int
    num_cases: int
    num_slices: int
    native_spacing: dict[str, list[float]]
    native_size: dict[str, SizeRange]
    intensity: SiteStandardization              # the scheme and what the training split taught it
    availability_patterns: dict[str, int]
    split: dict[str, list[str]]
    cases: dict[str, FingerprintCase]

    def split_cases(self, split: str) -> list[str]:
        """The case ids of `split` (train/val/test); a clear error for a split the site lacks."""
        if split not in self.split:
            raise PmmError(f"site {self.site} has no {split!r} split (it has {', '.join(self.split) or 'none'})")
        return self.split[split]


class SiteRecord(Record):
    """What a checkpoint records of each site it was trained on."""

    name: str
    dataset_id: int
    modalities: list[str]
    cache_dir: str
    intensity: SiteStandardization  # the scale the model was trained in for this site

    @classmethod
    def of(cls, site_dir: Path, fingerprint: SiteFingerprint) -> "SiteRecord":
        return cls(name=fingerprint.site, dataset_id=fingerprint.dataset_id, modalities=fingerprint.modalities,
                   cache_dir=str(Path(site_dir).resolve()), intensity=fingerprint.intensity)


RecordType = TypeVar("RecordType", bound=Record)


def read_record(path: Path, kind: type[RecordType]) -> RecordType:
    """A record from its JSON file; one line naming the file and the first bad field otherwise."""
    try:
        return kind.model_validate_json(Path(path).read_text())
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "(file)"
        raise PmmError(f"{path}: {where}: {error['msg']}; run `pmm prepare` again for this site") from None
