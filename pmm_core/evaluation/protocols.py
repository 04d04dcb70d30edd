"""How truth and prediction are put on one intensity scale before PSNR/SSIM: `pmm evaluate`'s row sets.

- `model`: the scale the model was trained in (the site's intensity standardization as the
  checkpoint records it); the truth is read from the cache through the same map. PSNR and 2D SSIM
  per slice on the crop, data range 1 (`metrics.py`), averaged per case.
- `common`: the truth's own brain percentile window (the site's `percentiles`, 0.5 / 99.5 by
  default: the `percentile` scheme applied to the truth). A prediction is taken back to the case's intensities with the inverse of the
  model's map for this case, then through the same window; for a model trained in the percentile
  scheme this is `model` itself. It makes models trained in different schemes comparable.
- `brasyn`: the BraSyn challenge's recipe (BraTS 2023-2025 synthesis): prediction and truth each
  clipped to their *own* 0.5 / 99.5 percentiles over the evaluated slab (background included,
  the lower bound at least 0) and scaled to [0, 1]; PSNR over the slab; 3D SSIM with a Gaussian
  window (σ 1.5, 11 voxels, as the challenge's torchmetrics call) on the images masked to the
  lesion label and to the rest, each averaged over its region (`ssim_lesion`, `ssim`: outside the
  lesion, which is the whole slab when the site has no label); PSNR inside the lesion over the
  same normalised volumes. Differences from the challenge:
  the slab is the evaluated slices of the crop (not the full volume), and a slab thinner than the
  window is scored slice by slice in 2D.

Every protocol, where the case has a lesion label, also scores inside the lesion in its own
scale: PSNR, SSIM and the lesion-to-healthy-tissue contrast ratio (`lesion.py`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pmm_core.data.intensity import SiteStandardization, VolumeIntensity, percentile_map
from pmm_core.evaluation.lesion import contrast_ratio, lesion_region, region_psnr
from pmm_core.evaluation.metrics import psnr_of_error, slice_psnr, slice_ssim_map

PROTOCOLS: tuple[str, ...] = ("model", "common", "brasyn")
BRASYN_PERCENTILES = (0.5, 99.5)
SSIM_SIGMA = 1.5
SSIM_WINDOW = 11  # what skimage's Gaussian window of σ 1.5 spans (truncated at 3.5 σ)


@dataclass(frozen=True)
class CaseScore:
    case: str
    psnr: float
    ssim: float
    ssim_lesion: float | None = None   # with a lesion label: inside the lesion (`lesion.py`)
    psnr_lesion: float | None = None
    contrast: float | None = None      # lesion contrast of the prediction over the truth's


@dataclass(frozen=True)
class TruthView:
    """What every protocol needs of one case's target: the truth in the model's scale and as
    stored (anchor-relative, unclipped), the brain mask, its lesion label and its intensities."""

    case: str
    model_scale: np.ndarray       # (Z, H, W)
    stored: np.ndarray            # (Z, H, W)
    mask: np.ndarray              # (Z, H, W)
    label: np.ndarray | None
    intensity: VolumeIntensity
    target: str
    standardization: SiteStandardization


def per_slice(case: str, prediction: np.ndarray, truth: np.ndarray, view: TruthView) -> CaseScore:
    """PSNR and SSIM per slice, averaged; inside the lesion, voxel-wise over the case."""
    psnr = [slice_psnr(p, t) for p, t in zip(prediction, truth)]
    ssim, maps = zip(*(slice_ssim_map(p, t) for p, t in zip(prediction, truth)))
    lesion = lesion_region(view.label, view.mask)
    if lesion is None:
        return CaseScore(case, float(np.mean(psnr)), float(np.mean(ssim)))
    return CaseScore(case, float(np.mean(psnr)), float(np.mean(ssim)), float(np.stack(maps)[lesion].mean()),
                     region_psnr(prediction, truth, lesion),
                     contrast_ratio(prediction, truth, view.label, lesion, view.mask > 0))


def common_scale(view: TruthView, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, truth) in the truth's own percentile window, brain-masked."""
    window = percentile_map(view.intensity)
    stored = view.standardization.volume_map(view.target, view.intensity).invert(prediction)
    inside = view.mask > 0
    return window.apply(stored) * inside, window.apply(view.stored) * inside


def brasyn_normalised(volume: np.ndarray) -> np.ndarray:
    """The challenge's per-volume normalisation: clip to its own percentiles, scale to [0, 1]."""
    low, high = np.percentile(volume, BRASYN_PERCENTILES)
    low = max(float(low), 0.0)
    if high <= low:
        return np.zeros_like(volume, dtype=np.float32)
    return ((np.clip(volume, low, high) - low) / (high - low)).astype(np.float32)


def region_ssim(prediction: np.ndarray, truth: np.ndarray, region: np.ndarray) -> float:
    """SSIM of both images masked to `region`, averaged over the region (the challenge's way)."""
    from skimage.metrics import structural_similarity  # scipy.stats: only where something is scored

    region = region.astype(bool)
    if not region.any():
        return float("nan")
    a, b = truth * region, prediction * region
    if min(a.shape) >= SSIM_WINDOW:
        _, full = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=SSIM_SIGMA,
                                        use_sample_covariance=False, full=True)
    else:  # thinner than the window: 2D per slice
        full = np.stack([structural_similarity(x, y, data_range=1.0, gaussian_weights=True, sigma=SSIM_SIGMA,
                                               use_sample_covariance=False, full=True)[1] for x, y in zip(a, b)])
    return float(full[region].mean())


def brasyn_score(view: TruthView, prediction: np.ndarray) -> CaseScore:
    truth = brasyn_normalised(view.stored)
    predicted = brasyn_normalised(prediction)
    psnr = psnr_of_error(float(np.mean((truth - predicted) ** 2)))
    lesion = lesion_region(view.label, None)  # the challenge's label, as drawn
    outside = ~lesion if lesion is not None else np.ones(truth.shape, dtype=bool)
    if lesion is None:
        return CaseScore(view.case, psnr, region_ssim(predicted, truth, outside))
    return CaseScore(view.case, psnr, region_ssim(predicted, truth, outside), region_ssim(predicted, truth, lesion),
                     region_psnr(predicted, truth, lesion),
                     contrast_ratio(predicted, truth, view.label, lesion, view.mask > 0))


def score_protocol(protocol: str, view: TruthView, prediction: np.ndarray) -> CaseScore:
    """One case's score of a model-scale `prediction` under `protocol`."""
    if protocol == "model":
        return per_slice(view.case, prediction, view.model_scale, view)
    if protocol == "common":
        return per_slice(view.case, *common_scale(view, prediction), view)
    if protocol == "brasyn":
        return brasyn_score(view, prediction)
    raise ValueError(f"unknown protocol {protocol!r}")
