"""The `brats` layout: BraTS 2019-2021 names (`<case>_t1.nii.gz`, t1ce, t2, flair, seg) and
BraTS 2023 names (`<case>-t1n.nii.gz`, t1c, t2w, t2f, seg), one folder per case.

Folders may be nested one level (e.g. `root/HGG/<case>` in BraTS 2019): every folder that holds
BraTS-named files is a case.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from pmm_core.config.site import SiteConfig
from pmm_core.data.case import CaseFiles
from pmm_core.data.readers.matching import NIFTI_SUFFIX, collect_cases, is_nifti, single_match
from pmm_core.errors import CaseError

SUFFIX_TO_SLOT = {
    "t1": "T1", "t1n": "T1",
    "t1ce": "T1C", "t1c": "T1C",
    "t2": "T2", "t2w": "T2",
    "flair": "FLAIR", "t2f": "FLAIR",
    "seg": "label",
}
NAME_PATTERN = re.compile(r"[_-](t1|t1n|t1ce|t1c|t2|t2w|flair|t2f|seg)$", re.IGNORECASE)


def slot_of(path: Path) -> str | None:
    """'T1', 'T2', 'T1C', 'FLAIR', 'label' or None from a BraTS file name."""
    stem = NIFTI_SUFFIX.sub("", path.name)
    match = NAME_PATTERN.search(stem)
    return SUFFIX_TO_SLOT[match.group(1).lower()] if match else None


def discover(site: SiteConfig) -> tuple[list[CaseFiles], list[tuple[str, str]]]:
    case_folders = []
    for folder in sorted(p for p in Path(site.root).iterdir() if p.is_dir() and not p.name.startswith(".")):
        has_files = any(is_nifti(f) for f in folder.iterdir())
        case_folders += [folder] if has_files else sorted(p for p in folder.iterdir() if p.is_dir())
    return collect_cases((f.name, functools.partial(read_case_folder, f, site)) for f in case_folders)


def read_case_folder(folder: Path, site: SiteConfig) -> CaseFiles:
    by_slot: dict[str, list[Path]] = {}
    for path in folder.iterdir():
        if is_nifti(path) and (slot := slot_of(path)) is not None:
            by_slot.setdefault(slot, []).append(path)
    files = {}
    for slot, matches in by_slot.items():
        if slot != "label" and slot in site.modalities:
            files[slot] = single_match(folder, f"BraTS {slot}", matches)
    if not files:
        raise CaseError(
            f"{folder}: none of site {site.name}'s files found (BraTS names like <case>_t1.nii.gz or <case>-t1n.nii.gz)"
        )
    label = single_match(folder, "BraTS seg", by_slot.get("label", []))
    return CaseFiles(case_id=folder.name, files=files, label=label, folders=(folder,))
