"""The site fingerprint (nnU-Net's idea): what a site's data looks like, in one JSON file.

It records native spacing and shapes per modality, the intensity standardization learned on the
training split, availability pattern counts and the case-level split, so training and evaluation read one small file instead of
re-scanning the cache, and a person can see at a glance how sites differ.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from pmm_core.config.site import SiteConfig
from pmm_core.data.cache import write_json_atomic
from pmm_core.data.intensity import learn_standardization
from pmm_core.data.records import CaseMeta, FingerprintCase, SiteFingerprint, SizeRange, read_record
from pmm_core.data.split import assign_splits
from pmm_core.errors import PmmError
from pmm_core.modalities import MODALITIES, availability_vector, pattern_name

FINGERPRINT_NAME = "fingerprint.json"


def _median_list(rows: list[list[float]]) -> list[float]:
    return [round(float(v), 4) for v in np.median(np.asarray(rows, dtype=float), axis=0)]


def build_fingerprint(site: SiteConfig, metas: list[CaseMeta], split: dict[str, list[str]] | None = None) -> SiteFingerprint:
    """Summarise the cached cases of one site; its intensity standardization is learned on the
    training split (`split`: the site's frozen one, `pmm prepare` passes it; a fresh draw otherwise)."""
    spacing, sizes = {}, {}
    for modality in MODALITIES:
        natives = [m.native[modality] for m in metas if modality in m.native]
        if natives:
            spacing[modality] = _median_list([n.spacing for n in natives])
            size_rows = np.asarray([n.size for n in natives])
            sizes[modality] = SizeRange(min=size_rows.min(0).tolist(), median=_median_list(size_rows.tolist()),
                                        max=size_rows.max(0).tolist())
    patterns = Counter(pattern_name(availability_vector(m.modalities)) for m in metas)
    options = site.preprocessing
    split = split if split is not None else assign_splits([m.case_id for m in metas], site.split)
    training = set(split.get("train", []))
    intensity = learn_standardization(options.intensity, [m.intensity for m in metas if m.case_id in training],
                                      fallback=[m.intensity for m in metas], headroom=options.intensity_headroom)
    return SiteFingerprint(
        site=site.name, dataset_id=site.dataset_id, layout=site.layout, modalities=list(site.modalities),
        preprocess=options.model_dump(mode="json", by_alias=True), crop_size=options.crop_size,
        num_cases=len(metas), num_slices=int(sum(m.slices for m in metas)),
        native_spacing=spacing, native_size=sizes, intensity=intensity,
        availability_patterns=dict(sorted(patterns.items())),
        split=split,
        cases={m.case_id: FingerprintCase(modalities=m.modalities, slices=m.slices)
               for m in sorted(metas, key=lambda x: x.case_id)},
        site_options=site.model_dump(mode="json", by_alias=True, exclude={"root", "split", "source"}),
    )


def load_fingerprint(site_dir: Path) -> SiteFingerprint:
    """The fingerprint of a prepared site; a clear error when the site was never prepared."""
    path = Path(site_dir) / FINGERPRINT_NAME
    if not path.is_file():
        raise PmmError(f"{path}: no fingerprint; run `pmm prepare --site {Path(site_dir).name}` first")
    return read_record(path, SiteFingerprint)


def write_fingerprint(site_dir: Path, fingerprint: SiteFingerprint) -> Path:
    path = Path(site_dir) / FINGERPRINT_NAME
    write_json_atomic(path, fingerprint.model_dump(mode="json"))
    return path
