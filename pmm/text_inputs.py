"""Text a user types that the library takes typed: the CLI turns it into lists and choices here."""
from __future__ import annotations

from enum import Enum

from pmm_core.errors import PmmError


def site_names(text: str | None, flag: str = "--sites") -> list[str]:
    """'TTG, BraTS' → ['TTG', 'BraTS'] (names or TOML paths); a clear error when none is given."""
    names = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not names:
        raise PmmError(f"{flag} is empty: give one or more site names or TOML paths, comma-separated")
    return names


def protocol_names(text: str) -> tuple[str, ...]:
    """'model, brasyn' → ('model', 'brasyn'); a clear error for an unknown or empty list."""
    from pmm_core.evaluation.protocols import PROTOCOLS

    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown or not names:
        raise PmmError(f"--protocols {text!r}: choose from {', '.join(PROTOCOLS)}")
    return names


class OutputRangeChoice(str, Enum):
    """`--range`: what a synthesis is written in (pmm_core.data.intensity.OutputRange)."""

    scanner = "scanner"
    unit = "unit"


class OutputFormatChoice(str, Enum):
    """`--out-format`: a NIfTI file, or a DICOM series in the reference input's study."""

    nifti = "nifti"
    dicom = "dicom"
