"""Which training slices hold pathology: what the pathology-aware sampling over-represents.

MCBS groups slices by site and availability pattern, never by content, so a batch holds
pathology in proportion to how much of the training split does: on the phantom's BraTS site
about half of the slices have tumour but only a few percent of the brain pixels the synthesis
loss averages over are lesion (`bench/lesion_budget.py`). A slice has pathology when

- its case has a lesion label (BraTS `*_seg`, ISLES `*_msk`, a site TOML's `label`) and the label
  has at least `MIN_LESION_PIXELS` voxels inside the brain on that slice; or,
- where the case has no label, some of its brain is far from the healthy-tissue level in a
  sequence whose lesions are hyperintense and whose healthy brain is not (FLAIR, DWI): at least
  `MIN_LESION_PIXELS` brain pixels above `HYPERINTENSE` times the volume's parenchyma median
  (the `tissue` anchor every prepared case stores its intensities relative to). This is a
  proxy; it never sees a hypointense lesion. T1C is left out: on the real BraTS 2023 case of
  the project's checks its vessels and dura put 112 of 122 brain slices above the threshold,
  FLAIR 83 (the glioma and its edema span most of that brain).
"""
from __future__ import annotations

import numpy as np

from pmm_core.data.cache import open_case_arrays, read_case_meta

MIN_LESION_PIXELS = 10
HYPERINTENSE = 1.8          # x the healthy-tissue anchor
PROXY_MODALITIES = ("FLAIR", "DWI")


def case_lesion_pixels(folder, slices: list[int]) -> np.ndarray:
    """Per listed slice of one cached case: its lesion pixels inside the brain (labelled cases) or
    its hyperintense brain pixels (the proxy above)."""
    meta = read_case_meta(folder)
    stored, mask = open_case_arrays(folder)
    brain = np.asarray(mask[slices]) > 0
    if meta.has_label:
        label = np.load(folder / "label.npy", mmap_mode="r")
        return ((np.asarray(label[slices]) > 0) & brain).reshape(len(slices), -1).sum(1)
    channels = [meta.modalities.index(m) for m in PROXY_MODALITIES if m in meta.modalities]
    if not channels:
        return np.zeros(len(slices), dtype=np.int64)
    bright = (np.asarray(stored[slices][:, channels]) > HYPERINTENSE).any(axis=1) & brain
    return bright.reshape(len(slices), -1).sum(1)


def has_pathology(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(pixels) >= MIN_LESION_PIXELS
