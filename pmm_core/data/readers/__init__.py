"""Layout readers: find the cases of a site on disk and load them.

Each layout has one module that turns a site root into `CaseFiles`s; loading a source into a
`CaseImages` is shared, so every layout gets the same checks (corrupt file, not 3D, coverage).
"""
from __future__ import annotations

from pathlib import Path

from pmm_core.config.site import SiteConfig
from pmm_core.data.case import CaseImages, CaseFiles
from pmm_core.data.nifti_io import read_volume
from pmm_core.data.readers import brats, generic, isles2022
from pmm_core.errors import PmmError

_DISCOVERERS = {"generic": generic.discover, "brats": brats.discover, "isles2022": isles2022.discover}


def discover_cases(site: SiteConfig) -> tuple[list[CaseFiles], list[tuple[str, str]]]:
    """All cases of a site, plus (case, reason) for case folders that cannot be used.

    A missing root or a root without any case is a PmmError: there is nothing to prepare.
    """
    root = Path(site.root)
    if not root.is_dir():
        where = f" (set 'root' in {site.source})" if site.source else ""
        raise PmmError(f"{root}: site {site.name} root folder not found{where}")
    sources, problems = _DISCOVERERS[site.layout](site)
    if not sources and not problems:
        raise PmmError(f"{root}: no case of layout {site.layout!r} found for site {site.name}")
    return sources, problems


def load_case(source: CaseFiles, site: SiteConfig) -> CaseImages:
    """Decode every file of a case; errors name the file at fault."""
    images = {modality: read_volume(path) for modality, path in source.files.items()}
    label = read_volume(source.label, label=True) if source.label is not None else None
    record = CaseImages(case_id=source.case_id, images=images, label=label, files=dict(source.files))
    record.check_coverage(site.modalities)
    return record


__all__ = ["discover_cases", "load_case", "CaseFiles", "CaseImages"]
