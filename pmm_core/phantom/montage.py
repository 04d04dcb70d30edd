"""One PNG per site: every modality of one case, through the lesion, so a person can check the
contrasts at a glance (CSF dark on T1/FLAIR and bright on T2, enhancing rim on T1C, infarct
bright on DWI and dark on ADC). Each modality is shown on its own grid's slice nearest the
lesion centre."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pmm_core.phantom.generator import PhantomCase


def _slice_through(data: np.ndarray, affine: np.ndarray, point: np.ndarray) -> np.ndarray:
    k = int(round((np.linalg.inv(affine) @ np.append(point, 1.0))[2]))
    k = int(np.clip(k, 0, data.shape[2] - 1))
    return np.rot90(data[:, :, k].astype(np.float32))


def write_montage(case: PhantomCase, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if case.label is not None and case.label.data.any():
        ijk = np.argwhere(case.label.data > 0).mean(axis=0)
        center = (case.label.affine @ np.append(ijk, 1.0))[:3]
    else:
        reference = next(iter(case.images.values()))
        center = (reference.affine @ np.append((np.array(reference.data.shape) - 1) / 2.0, 1.0))[:3]
    count = len(case.images) + (case.label is not None)
    figure, axes = plt.subplots(1, count, figsize=(2.2 * count, 2.6))
    axes = np.atleast_1d(axes)
    panels = list(case.images.items()) + ([("label", case.label)] if case.label is not None else [])
    for axis, (name, volume) in zip(axes, panels):
        image = _slice_through(volume.data, volume.affine, center)
        axis.imshow(image, cmap="gray", vmin=0, vmax=np.percentile(image, 99.5) or 1.0)
        axis.set_title(name, fontsize=9)
        axis.axis("off")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(figure)
