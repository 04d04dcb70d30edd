"""Typed records of what `pmm prepare` writes and everything else reads back: each case's
`meta.json` and the site's `fingerprint.json` (nnU-Net keeps its plans JSON behind a typed
wrapper the same way). A field is read by attribute, so a typo fails where it is written, and a
file that does not match names itself in one line.

Unknown keys are ignored on reading, so a cache written by an older pmm still opens (its case
signature, which includes the cache format, decides whether the case is prepared again).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from pmm_core.config.validation import validation_message
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
    site_options: dict | None = None            # the site file's options but root and split (None: older pmm)

    def split_cases(self, split: str) -> list[str]:
        """The case ids of `split` (train/val/test); a clear error for a split the site lacks."""
        if split not in self.split:
            raise PmmError(f"site {self.site} has no {split!r} split (it has {', '.join(self.split) or 'none'})")
        return self.split[split]


class SiteRecord(Record):
    """What a checkpoint records of each site it was trained on.

    An exported package (`pmm export`) keeps the same record without what belongs to the machine
    and the patients that trained it (`shareable`): no site folder, no case ids.
    """

    name: str
    dataset_id: int
    modalities: list[str]
    # where the site's cache was ("cache_dir" in older checkpoints); None in an exported package
    site_dir: str | None = Field(None, validation_alias=AliasChoices("site_dir", "cache_dir"))
    intensity: SiteStandardization  # the scale the model was trained in for this site
    split: dict[str, list[str]] | None = None  # the case split it trained with (None: written before pmm kept it)
    split_sha256: str | None = None
    # the site file's options but its root and split (layout, modalities, file globs, preprocessing),
    # as prepared: how the site's cases are found and what the model's input space is (None: older pmm)
    site_options: dict | None = None

    @classmethod
    def of(cls, site_dir: Path, fingerprint: SiteFingerprint) -> "SiteRecord":
        return cls(name=fingerprint.site, dataset_id=fingerprint.dataset_id, modalities=fingerprint.modalities,
                   site_dir=str(Path(site_dir).resolve()), intensity=fingerprint.intensity,
                   split=fingerprint.split, split_sha256=split_sha256(fingerprint.split),
                   site_options=fingerprint.site_options)

    def shareable(self) -> "SiteRecord":
        """The record without the training machine's folder and the training cases' ids (their
        split's hash stays, so two packages can be told apart by what they trained on)."""
        return self.model_copy(update={"site_dir": None, "split": None})

    def refuse_seen_cases(self, fingerprint: SiteFingerprint, split: str, checkpoint: Path | str) -> None:
        """One line when cases of the prepared site's `split` were in this model's training split:
        scoring them would measure memory, not synthesis (the site's split changed since training)."""
        if split == "train" or self.split is None:
            return
        seen = sorted(set(fingerprint.split_cases(split)) & set(self.split.get("train", [])))
        if seen:
            raise PmmError(f"{checkpoint}: {len(seen)} of site {self.name}'s {split} cases were in its training split "
                           f"({', '.join(seen[:5])}{' ...' if len(seen) > 5 else ''}); the site's split changed after "
                           "training: restore the splits.json it trained with in the site's cache, or train again")


def split_sha256(split: dict[str, list[str]]) -> str:
    """A fingerprint of a case split that does not depend on the order of its lists."""
    canonical = json.dumps({name: sorted(cases) for name, cases in sorted(split.items())}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


RecordType = TypeVar("RecordType", bound=Record)


def read_record(path: Path, kind: type[RecordType]) -> RecordType:
    """A record from its JSON file; one line naming the file and the first bad field otherwise."""
    try:
        return kind.model_validate_json(Path(path).read_text())
    except ValidationError as exc:
        raise PmmError(validation_message(path, exc, first_only=True, hint="run `pmm prepare` again for this site")) from None
