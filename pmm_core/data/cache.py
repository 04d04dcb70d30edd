"""The slice cache: one folder per case, arrays that read one slice without decoding the rest.

Layout under `<cache root>/<SITE>/`:
  cases/<case>/image.npy   float16 (slices, modalities present, H, W), each modality divided by
                           its healthy-tissue anchor (the site's intensity scheme maps it to
                           [0, 1] as a slice is read); opened memory-mapped, one slice is one
                           contiguous read.
  cases/<case>/mask.npy    uint8 (slices, H, W) brain mask; label.npy the same for labels.
  cases/<case>/meta.json   modalities, grid geometry, intensities, brain fraction per slice,
                           and the signature (source files + options) that decides reuse.
  fingerprint.json         the site fingerprint (see fingerprint.py).
Disk cost per BraTS-size case (155 slices, 4 modalities, 192x192): 45.7 MB image + 5.7 MB mask
+ 5.7 MB label, about 57 MB, uncompressed so reads stay cheap.

Each case folder is written under a temporary name and renamed, so a killed `pmm prepare` never
leaves a half-written case behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from pmm_core.atomic import atomic_folder, write_text_atomic
from pmm_core.config.site import PreprocessOptions
from pmm_core.data.case import CaseFiles
from pmm_core.data.records import CaseMeta, GridGeometry, NativeImage

if TYPE_CHECKING:  # the preprocessing stack (SimpleITK, nibabel): not for readers of the cache
    from pmm_core.data.preprocess.pipeline import PreparedCase

CACHE_FORMAT = 2  # 2: anchor-relative intensities, standardized when read


def default_cache_root() -> Path:
    """$PMM_CACHE_DIR, else ./pmm_cache in the working folder."""
    return Path(os.environ.get("PMM_CACHE_DIR", "pmm_cache"))


def site_cache_dir(cache_root: Path, site_name: str) -> Path:
    return Path(cache_root) / site_name


def case_cache_dir(site_dir: Path, case_id: str) -> Path:
    return Path(site_dir) / "cases" / case_id


def case_signature(source: CaseFiles, options: PreprocessOptions) -> str:
    """Hash of what the cached arrays depend on: format, options, and each file's size and mtime.

    The intensity scheme is left out: it is applied when a slice is read, so changing it only
    rewrites the fingerprint."""
    files = []
    for path in source.all_paths():
        # a DICOM series folder counts by its files: one slice re-exported changes the signature
        members = sorted(p for p in Path(path).iterdir() if p.is_file()) if Path(path).is_dir() else [Path(path)]
        for member in members:
            stat = member.stat()
            files.append([str(member.resolve()), stat.st_size, stat.st_mtime_ns])
    payload = {"format": CACHE_FORMAT, "options": options.model_dump(mode="json", exclude={"intensity", "intensity_headroom"}), "files": files}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def read_case_meta(case_dir: Path) -> CaseMeta | None:
    """The case's meta, or None when it is missing or unreadable (the case is prepared again)."""
    try:
        return CaseMeta.model_validate_json((Path(case_dir) / "meta.json").read_text())
    except (OSError, ValidationError):
        return None


def cached_meta(site_dir: Path, case_id: str, signature: str) -> CaseMeta | None:
    """The meta of a cached case whose signature still matches, else None (prepare it again)."""
    meta = read_case_meta(case_cache_dir(site_dir, case_id))
    return meta if meta is not None and meta.signature == signature else None


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2))


def write_case(site_dir: Path, prepared: PreparedCase, signature: str) -> CaseMeta:
    """Write one case atomically (temporary folder, then rename); returns its meta."""
    with atomic_folder(case_cache_dir(site_dir, prepared.case_id)) as temporary:
        np.save(temporary / "image.npy", prepared.image.astype(np.float16))
        np.save(temporary / "mask.npy", prepared.mask.astype(np.uint8))
        if prepared.label is not None:
            np.save(temporary / "label.npy", prepared.label.astype(np.uint8))
        brain_fraction = prepared.mask.reshape(prepared.mask.shape[0], -1).mean(axis=1)
        meta = CaseMeta(
            case_id=prepared.case_id, modalities=list(prepared.modalities), reference=prepared.reference,
            shape=list(prepared.image.shape), has_label=prepared.label is not None,
            geometry=GridGeometry(**prepared.geometry),
            native={m: NativeImage(**n) for m, n in prepared.native.items()},
            intensity=prepared.intensity,
            transforms=prepared.transforms, transform_centers=prepared.transform_centers,
            brain_fraction=[round(float(f), 5) for f in brain_fraction], signature=signature)
        (temporary / "meta.json").write_text(meta.model_dump_json(indent=2))
    return meta


def open_case_arrays(case_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(image, mask) memory-mapped: slicing one index reads one slice from disk."""
    case_dir = Path(case_dir)
    return np.load(case_dir / "image.npy", mmap_mode="r"), np.load(case_dir / "mask.npy", mmap_mode="r")


def remove_stale_temporaries(site_dir: Path) -> None:
    """Folders left by a killed run (never renamed into place) are deleted."""
    cases = Path(site_dir) / "cases"
    if cases.is_dir():
        for leftover in cases.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
