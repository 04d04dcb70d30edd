"""Where a modality a case lacks would be, had it been acquired: its file name in the site's own layout.

`pmm complete` writes a synthesized modality under this name, so the completed copy of a site is
read by the same reader (and by the tools people run on that layout: a BraTS segmentation
model, an ISLES'22 pipeline, nnU-Net's converters) as if the sequence had been acquired:

- `brats`: `<case>_t1ce.nii.gz` beside the case's other files, or `<case>-t1c.nii.gz` when the
  case uses BraTS 2023 names (the case's own files decide);
- `isles2022`: BIDS, `<sub>_<ses>_dwi.nii.gz` / `_adc` in `dwi/`, `_FLAIR` in `anat/` (or beside
  the case's files when the copy has no datatype folders);
- `generic`: the modality's `[files]` glob with its first `*` replaced by the case folder's name
  (`*_T1C.nii*` → `case007_T1C.nii.gz`), checked to match that glob and no other modality's.

A DICOM series is a folder: the same name without `.nii`/`.nii.gz`.
"""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from pmm_core.config.site import SiteConfig
from pmm_core.data.case import CaseFiles
from pmm_core.data.readers import brats, isles2022
from pmm_core.data.readers.matching import NIFTI_SUFFIX
from pmm_core.errors import CaseError, PmmError

BRATS_2021 = {"T1": "t1", "T1C": "t1ce", "T2": "t2", "FLAIR": "flair"}
BRATS_2023 = {"T1": "t1n", "T1C": "t1c", "T2": "t2w", "FLAIR": "t2f"}
ISLES_NAMES = {"DWI": ("dwi", "dwi"), "ADC": ("dwi", "adc"), "FLAIR": ("anat", "FLAIR")}  # datatype folder, suffix


def native_path(site: SiteConfig, source: CaseFiles, modality: str, dicom: bool = False) -> Path:
    """The path (in the case's own folder tree) `modality` takes in `site`'s layout."""
    if site.layout == "brats":
        path = _brats_path(source, modality)
    elif site.layout == "isles2022":
        path = _isles_path(source, modality)
    else:
        path = _generic_path(site, source, modality, dicom)
    return path.with_name(NIFTI_SUFFIX.sub("", path.name)) if dicom else path


def _existing(source: CaseFiles) -> list[Path]:
    return [source.files[m] for m in source.modalities]


def _brats_path(source: CaseFiles, modality: str) -> Path:
    if modality not in BRATS_2021:
        raise PmmError(f"BraTS names have no file for {modality}; a BraTS site holds T1, T1C, T2 and FLAIR")
    example = _existing(source)[0]
    stem = NIFTI_SUFFIX.sub("", example.name)
    match = brats.NAME_PATTERN.search(stem)
    prefix, separator, suffix = stem[:match.start()], stem[match.start()], match.group(1).lower()
    names = BRATS_2023 if suffix in BRATS_2023.values() and suffix not in BRATS_2021.values() else BRATS_2021
    return example.with_name(f"{prefix}{separator}{names[modality]}.nii.gz")


def _isles_path(source: CaseFiles, modality: str) -> Path:
    if modality not in ISLES_NAMES:
        raise PmmError(f"ISLES'22 names have no file for {modality}; an ISLES site holds DWI, ADC and FLAIR")
    example = _existing(source)[0]
    stem = NIFTI_SUFFIX.sub("", example.name)
    prefix = stem[:isles2022.MODALITY_PATTERN.search(stem).start()]
    datatype, suffix = ISLES_NAMES[modality]
    folder = example.parent
    if folder.name.lower() in {"dwi", "anat"}:
        folder = folder.parent / datatype
    return folder / f"{prefix}_{suffix}.nii.gz"


def _generic_path(site: SiteConfig, source: CaseFiles, modality: str, dicom: bool) -> Path:
    pattern = site.files.get(modality)
    if pattern is None:
        raise PmmError(f"site {site.name} has no [files] glob for {modality}; add one so a completed case can name it")
    case_folder = source.folders[0]
    name = pattern.rstrip("*")
    name = name.replace("*", case_folder.name, 1).replace("*", "")
    name = re.sub(r"[?\[\]]", "_", name)
    name = NIFTI_SUFFIX.sub("", name)
    name = name if dicom else name + ".nii.gz"
    if not fnmatch.fnmatch(name, pattern):
        kind = "a DICOM series folder" if dicom else "a NIfTI file"
        raise CaseError(f"site {site.name}: the {modality} glob {pattern!r} cannot match {kind} named {name!r}; "
                        f"use a glob that matches both acquired and synthesized files, e.g. '*_{modality}*'")
    clashes = [m for m, other in site.files.items() if m != modality and fnmatch.fnmatch(name, other)]
    if clashes:
        raise CaseError(f"site {site.name}: the synthesized {modality} name {name!r} also matches the {clashes[0]} "
                        "glob; make the globs tell them apart")
    return case_folder / name
