"""Intensity standardization: a lesion cannot move the tissue scheme's scale, what a site learns
comes from its training split, and every map inverts back to the case's own intensities."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import write_site_toml
from pmm_core.config.site import load_site
from pmm_core.data.case_volume import load_case_volume
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.intensity import SiteStandardization, VolumeIntensity, learn_standardization, percentile_map
from pmm_core.data.prepare_site import prepare_site
from pmm_core.data.preprocess.intensity_stats import parenchyma_median
from pmm_core.evaluation.protocols import TruthView, brasyn_normalised, common_scale, score_protocol
from pmm_core.modalities import MODALITIES
from synthetic import grid_affine, sample_modality, write_volume

GRID = dict(shape=(40, 48, 30), spacing=(4.0, 4.0, 4.0))
LESION_RADII = {"small": 5.0, "large": 26.0}  # about 0.1 % and 13 % of the brain


def _write_lesion_cases(root: Path) -> None:
    """A skull-stripped T1 + DWI site whose two cases differ only in the size of a bright DWI lesion."""
    affine = grid_affine(GRID["shape"], GRID["spacing"])
    for case, radius in LESION_RADII.items():
        folder = root / "data" / "LES" / case
        for modality in ("T1", "DWI"):
            values = sample_modality(modality, GRID["shape"], affine, lesion_radius=radius, brain_only=True)
            write_volume(folder / f"{case}_{modality}.nii.gz", values, affine)
        write_volume(folder / f"{case}_seg.nii.gz",
                     sample_modality("T1", GRID["shape"], affine, label=True, lesion_radius=radius), affine)


def _write_lesion_toml(root: Path, scheme: str) -> Path:
    return write_site_toml(
        root, "les",
        'name = "LES"\ndataset_id = 7\nroot = "../data/LES"\nlayout = "generic"\nmodalities = ["T1", "DWI"]\n'
        'label = "*_seg.nii.gz"\n\n[files]\nT1 = "*_T1.nii.gz"\nDWI = "*_DWI.nii.gz"\n\n'
        f'[preprocess]\nregister = false\nskull_strip = false\ncrop_size = 48\nin_plane_spacing = 4.0\n'
        f'intensity = "{scheme}"\n\n[split]\nval_fraction = 0.0\ntest_fraction = 0.0\n',
    )


def _healthy_dwi(site_dir: Path, case: str) -> float:
    """Median standardized DWI of the healthy brain (outside the lesion label) of one case."""
    volume = load_case_volume(site_dir, case, 0.0, with_label=True)
    dwi = volume.volume[:, MODALITIES.index("DWI")]
    healthy = (volume.mask > 0) & (volume.label == 0)
    return float(np.median(dwi[healthy]))


def test_a_growing_lesion_moves_the_percentile_scale_but_not_the_tissue_scale(tmp_path: Path) -> None:
    _write_lesion_cases(tmp_path)
    toml = _write_lesion_toml(tmp_path, "tissue")
    cache = tmp_path / "cache"
    first = prepare_site(load_site(toml), cache, progress=False, log=lambda _: None)
    assert not first.failed and sorted(first.prepared) == ["large", "small"]
    site_dir = cache / "LES"
    tissue = {case: _healthy_dwi(site_dir, case) for case in LESION_RADII}

    _write_lesion_toml(tmp_path, "percentile")  # same files, other scheme: only the fingerprint changes
    second = prepare_site(load_site(toml), cache, progress=False, log=lambda _: None)
    assert sorted(second.reused) == ["large", "small"] and not second.prepared
    assert load_fingerprint(site_dir).intensity.scheme == "percentile"
    percentile = {case: _healthy_dwi(site_dir, case) for case in LESION_RADII}

    def moved(values: dict[str, float]) -> float:
        return abs(values["large"] - values["small"]) / values["small"]

    assert moved(tissue) < 0.03, tissue          # healthy tissue stays put under the tissue scheme
    assert moved(percentile) > 0.15, percentile  # the lesion's brightness set the percentile scale


def test_parenchyma_median_ignores_a_bright_lesion_and_dark_csf() -> None:
    rng = np.random.default_rng(0)
    tissue = rng.normal(100.0, 8.0, 90_000)
    for share in (0.0, 0.05, 0.15):
        lesion = np.full(int(share * tissue.size), 320.0)  # a DWI stroke: over twice the tissue
        csf = np.full(int(0.1 * tissue.size), 20.0)
        assert abs(parenchyma_median(np.concatenate([tissue, lesion, csf])) - 100.0) < 1.0
    assert parenchyma_median(np.zeros(10)) == 0.0


def _volume(anchor: float, low: float, high: float, top: float) -> VolumeIntensity:
    return VolumeIntensity(anchor=anchor, low=low, high=high, top=top)


def test_the_site_learns_from_its_training_cases_only() -> None:
    training = [{"DWI": _volume(100, 10, 250, 280)}, {"DWI": _volume(200, 20, 400, 500)}]
    held_out = [{"DWI": _volume(100, 10, 900, 2000)}, {"ADC": _volume(800, 0, 3000, 3200)}]
    learned = learn_standardization("tissue", training, fallback=training + held_out)
    assert learned.modalities["DWI"].upper == 2.8  # max(280/100, 500/200): the held-out 20.0 is not seen
    assert learned.modalities["DWI"].typical.anchor == 150.0
    assert learned.modalities["ADC"].upper == 4.0  # no training case has ADC: learned from the others


@pytest.mark.parametrize("scheme", ["tissue", "percentile"])
def test_maps_invert_to_the_case_and_to_the_site_scale(scheme: str) -> None:
    case = _volume(anchor=120.0, low=30.0, high=400.0, top=450.0)
    site = learn_standardization(scheme, [{"T1C": case}, {"T1C": _volume(100.0, 20.0, 300.0, 350.0)}])
    stored = np.linspace(0.0, 3.0, 50, dtype=np.float32)  # anchor-relative intensities
    mapped = site.volume_map("T1C", case)
    standardized = mapped.apply(stored)
    assert standardized.min() >= 0.0 and standardized.max() <= 1.0
    inside = (standardized > 0) & (standardized < 1)  # unclipped values come back exactly
    assert np.allclose(site.to_scanner("T1C", standardized, case)[inside], (stored * case.anchor)[inside], rtol=1e-5)
    typical = site.scale("T1C").typical
    if scheme == "tissue":  # the site's typical volume: healthy tissue (1.0) lands on its typical anchor
        assert np.isclose(site.to_scanner("T1C", mapped.apply(np.float32([1.0])))[0], typical.anchor)
    else:
        assert np.isclose(site.to_scanner("T1C", np.float32([0.0, 1.0]))[1], typical.high)


def test_a_missing_modality_in_the_standardization_is_one_clear_line() -> None:
    site = SiteStandardization(scheme="tissue", modalities={})
    with pytest.raises(Exception, match="has no DWI .* run `pmm prepare`"):
        site.scale("DWI")
    assert percentile_map(_volume(1.0, 5.0, 5.0, 5.0)).scale == 0.0  # an empty window maps to 0, not inf


def _view(scheme: str, stored: np.ndarray, volume: VolumeIntensity) -> TruthView:
    site = learn_standardization(scheme, [{"DWI": volume}])
    mask = np.ones(stored.shape, dtype=np.uint8)
    truth = site.volume_map("DWI", volume).apply(stored)
    return TruthView("c", truth, stored, mask, None, volume, "DWI", site)


def test_the_common_window_is_the_percentile_scale_and_compares_schemes() -> None:
    rng = np.random.default_rng(1)
    stored = rng.uniform(0.0, 2.5, (12, 16, 16)).astype(np.float32)
    volume = _volume(anchor=200.0, low=40.0, high=420.0, top=480.0)
    percentile = _view("percentile", stored, volume)
    prediction = np.clip(percentile.model_scale + rng.normal(0, 0.05, stored.shape), 0, 1).astype(np.float32)
    common_prediction, common_truth = common_scale(percentile, prediction)
    assert np.allclose(common_truth, percentile.model_scale, atol=1e-6)   # for a percentile model it is its own scale
    assert np.allclose(common_prediction, prediction, atol=1e-5)
    # a tissue model's prediction of the same intensities lands on the same common values
    tissue = _view("tissue", stored, volume)
    same = tissue.standardization.volume_map("DWI", volume).apply(
        percentile.standardization.volume_map("DWI", volume).invert(prediction))
    assert np.allclose(common_scale(tissue, same)[0], common_prediction, atol=1e-4)
    assert score_protocol("common", tissue, same).psnr == pytest.approx(score_protocol("model", percentile, prediction).psnr, abs=0.05)


def test_brasyn_rescales_each_volume_and_scores_the_lesion_apart() -> None:
    truth = np.zeros((12, 24, 24), dtype=np.float32)
    truth[:, 4:20, 4:20] = 1.0
    truth[2:10, 6:14, 6:14] = 3.0                     # a bright lesion, 7 % of the slab
    label = (truth == 3.0).astype(np.uint8)
    view = TruthView("c", truth / 3, truth, (truth > 0).astype(np.uint8), label, _volume(1, 0, 3, 3), "T1C",
                     learn_standardization("tissue", [{"T1C": _volume(1, 0, 3, 3)}]))
    exact = score_protocol("brasyn", view, truth * 0.25)  # any scale: each volume is normalised by its own percentiles
    assert exact.psnr == 100.0 and exact.ssim == pytest.approx(1.0) and exact.ssim_lesion == pytest.approx(1.0)
    dimmer = truth.copy()
    dimmer[label > 0] = 2.0  # the whole lesion predicted less bright: self-normalisation lifts the healthy brain
    scored = score_protocol("brasyn", view, dimmer)
    assert scored.ssim < 0.95 and scored.psnr < 25.0
    dimmer[2:6] = truth[2:6]  # half the lesion right, half too dim: the lesion's own SSIM drops
    assert score_protocol("brasyn", view, dimmer).ssim_lesion < 0.99
    assert brasyn_normalised(np.zeros((3, 3))).max() == 0.0
