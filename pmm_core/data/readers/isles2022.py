"""The `isles2022` layout: the BIDS release of ISLES'22.

`[rawdata/]sub-*/ses-*/{dwi,anat}/sub-*_ses-*_{dwi,adc,FLAIR}.nii.gz`, masks under
`derivatives/sub-*/ses-*/…_msk.nii.gz`. Copies in circulation differ (with or without the
`rawdata/` level, the `anat/`/`dwi/` folders, `FLAIR` or `flair`), so names match
case-insensitively anywhere below the session folder.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from pmm_core.config.site import SiteConfig
from pmm_core.data.case import CaseFiles
from pmm_core.data.readers.matching import NIFTI_SUFFIX, collect_cases, is_nifti, single_match
from pmm_core.errors import CaseError

MODALITY_PATTERN = re.compile(r"_(dwi|adc|flair)$", re.IGNORECASE)
MASK_PATTERN = re.compile(r"(_msk|_mask|_label|_dseg)$", re.IGNORECASE)


def _stem(path: Path) -> str:
    return NIFTI_SUFFIX.sub("", path.name)


def _subject_sessions(base: Path) -> list[tuple[str, Path]]:
    """(case id, folder) per session of every subject; a subject without sessions is one case."""
    cases = []
    for subject in sorted(p for p in base.iterdir() if p.is_dir() and p.name.lower().startswith("sub-")):
        sessions = sorted(p for p in subject.iterdir() if p.is_dir() and p.name.lower().startswith("ses-"))
        if sessions:
            cases.extend((f"{subject.name}_{s.name}", s) for s in sessions)
        else:
            cases.append((subject.name, subject))
    return cases


def _mask_for(derivatives: Path, case_folder: Path, base: Path) -> list[Path]:
    relative = case_folder.relative_to(base)
    folder = derivatives / relative
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if is_nifti(p) and MASK_PATTERN.search(_stem(p))]


def discover(site: SiteConfig) -> tuple[list[CaseFiles], list[tuple[str, str]]]:
    root = Path(site.root)
    base = root / "rawdata" if (root / "rawdata").is_dir() else root
    derivatives = root / "derivatives"
    return collect_cases(
        (case_id, functools.partial(read_case_folder, case_id, folder, site, derivatives, base))
        for case_id, folder in _subject_sessions(base)
    )


def read_case_folder(case_id: str, folder: Path, site: SiteConfig, derivatives: Path, base: Path) -> CaseFiles:
    by_modality: dict[str, list[Path]] = {}
    for path in folder.rglob("*"):
        if is_nifti(path) and (match := MODALITY_PATTERN.search(_stem(path))):
            by_modality.setdefault(match.group(1).upper(), []).append(path)
    files = {}
    for modality, matches in by_modality.items():
        if modality in site.modalities:
            files[modality] = single_match(folder, f"ISLES'22 {modality}", matches)
    if not files:
        raise CaseError(f"{folder}: none of site {site.name}'s files found (…_dwi/_adc/_FLAIR.nii.gz)")
    label = single_match(folder, "an ISLES'22 mask", _mask_for(derivatives, folder, base)) if derivatives.is_dir() else None
    derived = derivatives / folder.relative_to(base)
    return CaseFiles(case_id=case_id, files=files, label=label,
                      folders=(folder,) + ((derived,) if derived.is_dir() else ()))
