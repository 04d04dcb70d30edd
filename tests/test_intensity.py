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
