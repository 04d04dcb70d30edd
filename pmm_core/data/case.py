"""Typed records of one case: what a reader found on disk, and the loaded images.

Images stay SimpleITK images so their real spacing, origin and direction travel with the
voxels; nothing downstream assumes an orientation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import SimpleITK as sitk

from pmm_core.errors import CaseError
from pmm_core.modalities import MODALITIES, availability_vector


@dataclass(frozen=True)
class CaseFiles:
    """Files of one case as found by a layout reader (nothing decoded yet)."""

    case_id: str
    files: dict[str, Path]
    label: Path | None = None
    folders: tuple[Path, ...] = ()  # every folder holding the case's files (ISLES: rawdata and derivatives)

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if m in self.files)

    def all_paths(self) -> list[Path]:
        paths = [self.files[m] for m in self.modalities]
        return paths + ([self.label] if self.label is not None else [])


@dataclass
class CaseImages:
    """A loaded case: one 3D image per available modality, plus the label if any."""

    case_id: str
    images: dict[str, sitk.Image]
    label: sitk.Image | None = None
    files: dict[str, Path] = field(default_factory=dict)  # where each image came from, for error messages

    def describe(self, modality: str) -> str:
        """The file a modality was read from (or the modality's name when it was not read from disk)."""
        return str(self.files[modality]) if modality in self.files else f"{self.case_id} {modality}"

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if m in self.images)

    @property
    def availability(self) -> tuple[int, ...]:
        return availability_vector(self.modalities)

    def check_coverage(self, declared: list[str]) -> None:
        """A case must not hold a modality its site does not declare."""
        extra = [m for m in self.modalities if m not in declared]
        if extra:
            raise CaseError(
                f"case {self.case_id}: has {', '.join(extra)}, which the site does not declare in 'modalities'"
            )
