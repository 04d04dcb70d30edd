"""Helpers shared by the layout readers: NIfTI file tests and one-file-per-slot matching."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from pmm_core.data.case import CaseFiles
from pmm_core.errors import CaseError

NIFTI_SUFFIX = re.compile(r"\.nii(\.gz)?$", re.IGNORECASE)


def is_nifti(path: Path) -> bool:
    return path.is_file() and bool(NIFTI_SUFFIX.search(path.name))


def single_match(folder: Path, what: str, matches: list[Path]) -> Path | None:
    """The one file among `matches`; two or more is an error naming them."""
    matches = sorted(set(matches))
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches)
        raise CaseError(f"{folder}: {len(matches)} files match {what} ({names}); leave exactly one")
    return matches[0] if matches else None


def collect_cases(
    candidates: Iterable[tuple[str, Callable[[], CaseFiles]]],
) -> tuple[list[CaseFiles], list[tuple[str, str]]]:
    """Run each (case name, reader) pair; a CaseError skips that case and is kept as a problem."""
    sources: list[CaseFiles] = []
    problems: list[tuple[str, str]] = []
    for name, read in candidates:
        try:
            sources.append(read())
        except CaseError as exc:
            problems.append((name, str(exc)))
    return sources, problems
