"""The `generic` layout: one folder per case under the root, one glob per modality in [files].

This is what in-house exports look like (TTG, TTI): `root/<case>/<anything>_T1.nii.gz`. A glob
may match a folder instead of a file: that folder is one DICOM series, as scanners export them
(`root/<case>/<case>_T1/IM0001.dcm …` with `T1 = "*_T1"`).
"""
from __future__ import annotations

import functools
from pathlib import Path

from pmm_core.config.site import SiteConfig
from pmm_core.data.case import CaseFiles
from pmm_core.data.dicom_series import is_series_folder
from pmm_core.data.readers.matching import collect_cases, is_nifti, single_match
from pmm_core.errors import CaseError


def discover(site: SiteConfig) -> tuple[list[CaseFiles], list[tuple[str, str]]]:
    folders = sorted(p for p in Path(site.root).glob(site.case_glob) if p.is_dir() and not p.name.startswith("."))
    return collect_cases((f.name, functools.partial(read_case_folder, f, site)) for f in folders)


def read_case_folder(folder: Path, site: SiteConfig) -> CaseFiles:
    """Match each modality's glob inside one case folder."""
    files: dict[str, Path] = {}
    for modality, pattern in site.files.items():
        matches = [p for p in folder.glob(pattern) if is_nifti(p) or is_series_folder(p)]
        found = single_match(folder, f"the {modality} glob {pattern!r}", matches)
        if found is not None:
            files[modality] = found
    if not files:
        patterns = ", ".join(f"{m}={p!r}" for m, p in site.files.items())
        raise CaseError(f"{folder}: none of site {site.name}'s files found ({patterns})")
    label = None
    if site.label:
        label = single_match(folder, f"the label glob {site.label!r}", [p for p in folder.glob(site.label) if is_nifti(p)])
    return CaseFiles(case_id=folder.name, files=files, label=label, folders=(folder,))
