"""The six modalities in their fixed channel order (index 0..5 in every tensor, cache and checkpoint).

Every tensor with a modality axis uses this order, so index 3 is always FLAIR whichever site
the data comes from.
"""
from __future__ import annotations

from pmm_core.errors import PmmError

MODALITIES: tuple[str, ...] = ("T1", "T2", "T1C", "FLAIR", "DWI", "ADC")
NUM_MODALITIES = len(MODALITIES)

# Reference modality preference: every other modality is resampled onto this one's grid.
REFERENCE_ORDER: tuple[str, ...] = ("T1", "FLAIR", "T2", "DWI", "T1C", "ADC")


def modality_index(name: str) -> int:
    """Channel index of a modality name, case-insensitive; a clear error for unknown names."""
    upper = name.strip().upper()
    if upper not in MODALITIES:
        raise PmmError(f"unknown modality {name!r}: use one of {', '.join(MODALITIES)}")
    return MODALITIES.index(upper)


def canonical_modality(name: str) -> str:
    """The canonical spelling ('flair' -> 'FLAIR')."""
    return MODALITIES[modality_index(name)]


def availability_vector(present: list[str] | tuple[str, ...]) -> tuple[int, ...]:
    """M in {0,1}^6 for a list of present modality names."""
    indices = {modality_index(name) for name in present}
    return tuple(1 if i in indices else 0 for i in range(NUM_MODALITIES))


def pattern_name(availability: tuple[int, ...]) -> str:
    """Readable availability pattern, e.g. 'T1+T2+FLAIR'."""
    return "+".join(m for m, bit in zip(MODALITIES, availability) if bit) or "none"


def reference_modality(present: list[str] | tuple[str, ...]) -> str:
    """The grid every modality of a case is resampled onto: T1 if present, else FLAIR, T2, DWI."""
    for name in REFERENCE_ORDER:
        if name in present:
            return name
    raise PmmError("a case has no modality to use as reference")
