"""A prepared-site cache of random brain-shaped slices, for benchmarks that time, not score.

Written with pmm's own cache writer (the files `pmm prepare` writes), so timing runs read
exactly what training reads, at any crop size and in seconds; no phantom or registration
is needed when the content does not matter. Four sites as in the phantom federation: TTG
with all six modalities, TTI with a different subset per case (several availability
patterns, as the real TTI), BraTS with four and ISLES with three.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pmm_core.config.site import SiteConfig
from pmm_core.data.cache import case_cache_dir, read_case_meta, write_case
from pmm_core.data.fingerprint import build_fingerprint, write_fingerprint
from pmm_core.data.intensity import VolumeIntensity
from pmm_core.data.preprocess.pipeline import PreparedCase

ALL = ("T1", "T2", "T1C", "FLAIR", "DWI", "ADC")
UNIT = VolumeIntensity(anchor=1.0, low=0.0, high=1.0, top=1.0)  # stored values are the model's scale
TTI_SUBSETS = (("T1", "T2", "FLAIR"), ("T1", "T2"), ("T2", "FLAIR", "DWI", "ADC"), ("T1", "FLAIR"))
SITES = [("TTG", 0, (ALL,)), ("TTI", 1, TTI_SUBSETS), ("BraTS", 2, (("T1", "T2", "T1C", "FLAIR"),)),
         ("ISLES", 3, (("FLAIR", "DWI", "ADC"),))]


def glioma_label(size: int, slices: int, rng: np.random.Generator) -> np.ndarray:
    """(slices, size, size) uint8: a BraTS-style tumour (necrosis 1 inside enhancing rim 4 inside
    oedema 2) at a random place in the brain."""
    yy, xx = np.mgrid[:size, :size]
    (cy, cx), r = size / 2 + rng.uniform(-0.15, 0.15, 2) * size, rng.uniform(0.06, 0.1) * size
    d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) / r
    plane = np.select([d < 0.45, d < 1.0, d < 1.8], [1, 4, 2], 0).astype(np.uint8)
    return np.repeat(plane[None], slices, 0)


def write_cache(root: Path, size: int, cases: int, slices: int, seed: int = 0,
                only: tuple[str, ...] | None = None, labels: bool = False) -> list[Path]:
    """`cases` cases of `slices` slices per site at `size`x`size` (`only`: those sites; `labels`:
    each case with a glioma label); returns the site folders."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    brain = ((yy - size / 2) ** 2 / (0.42 * size) ** 2 + (xx - size / 2) ** 2 / (0.36 * size) ** 2) < 1
    site_dirs = []
    for name, dataset_id, subsets in [site for site in SITES if only is None or site[0] in only]:
        modalities_used = [m for m in ALL if any(m in subset for subset in subsets)]
        site = SiteConfig(name=name, dataset_id=dataset_id, root=root, layout="brats", modalities=modalities_used,
                          preprocess={"crop_size": size})
        site_dir = root / name
        for index in range(cases):
            modalities = subsets[index % len(subsets)]
            image = (rng.random((slices, len(modalities), size, size), dtype=np.float32) * brain).astype(np.float32)
            mask = np.repeat(brain[None], slices, 0).astype(np.uint8)
            prepared = PreparedCase(case_id=f"c{index}", modalities=modalities, reference=modalities[0], image=image,
                                    geometry={"size": [size, size, slices], "spacing": [1.0, 1.0, 1.0],
                                              "origin": [0.0, 0.0, 0.0], "direction": [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]},
                                    mask=mask, label=glioma_label(size, slices, rng) if labels else None, intensity={m: UNIT for m in modalities},
                                    native={m: {"size": [size, size, slices], "spacing": [1.0, 1.0, 1.0]} for m in modalities})
            write_case(site_dir, prepared, "bench")
        metas = [read_case_meta(case_cache_dir(site_dir, f"c{i}")) for i in range(cases)]
        write_fingerprint(site_dir, build_fingerprint(site, metas))
        site_dirs.append(site_dir)
    return site_dirs
