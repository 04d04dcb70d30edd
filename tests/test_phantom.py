"""The phantom federation: layouts, TOMLs, MR contrast measured on the written files,
reproducibility, and `pmm prepare` on all four sites."""
from __future__ import annotations

import dataclasses
import filecmp
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from conftest import run_pmm
from pmm_core.config.site import load_site
from pmm_core.data.readers import discover_cases
from pmm_core.phantom.federation import random_subset, write_federation
from pmm_core.phantom.generator import CaseSynthesizer, grid_points
from pmm_core.phantom.mr_physics import ADC_MAX, B0, apparent_diffusion, tissue_signal
from pmm_core.phantom.sites import SITES
from pmm_core.phantom.tissues import INFARCT_STAGES, TISSUES

SITE = {s.name: s for s in SITES}


SEED = 0  # the session's phantom (conftest.prepared_phantom): 3 cases per site, seed 0


@pytest.fixture(scope="module")
def federation(prepared_phantom: Path) -> Path:
    """The phantom every end-to-end test uses, written once per run (read only here)."""
    return prepared_phantom


def test_layouts_and_names(federation: Path) -> None:
    assert (federation / "BraTS" / "BraTS2021_00001" / "BraTS2021_00001_t1ce.nii.gz").is_file()
    assert (federation / "BraTS" / "BraTS2021_00001" / "BraTS2021_00001_seg.nii.gz").is_file()
    isles = federation / "ISLES"
    assert (isles / "rawdata/sub-strokecase0001/ses-0001/dwi/sub-strokecase0001_ses-0001_adc.nii.gz").is_file()
    assert (isles / "rawdata/sub-strokecase0001/ses-0001/anat/sub-strokecase0001_ses-0001_FLAIR.nii.gz").is_file()
    assert (isles / "derivatives/sub-strokecase0001/ses-0001/sub-strokecase0001_ses-0001_msk.nii.gz").is_file()
    assert len(list((federation / "TTG" / "TTG_001").glob("TTG_001_*.nii.gz"))) == 7  # six modalities + seg
    for site in ("TTG", "TTI", "BraTS", "ISLES"):
        assert (federation / site / "montage.png").stat().st_size > 1000


def test_tomls_load_and_every_case_is_found(federation: Path) -> None:
    for name in ("ttg", "tti", "brats", "isles"):
        site = load_site(federation / "sites" / f"{name}.toml")
        sources, problems = discover_cases(site)
        assert len(sources) == 3 and not problems


def test_geometry_is_native(federation: Path) -> None:
    brats = nib.load(str(federation / "BraTS/BraTS2021_00001/BraTS2021_00001_t1.nii.gz"))
    flair = nib.load(str(federation / "ISLES/rawdata/sub-strokecase0001/ses-0001/anat/sub-strokecase0001_ses-0001_FLAIR.nii.gz"))
    dwi = nib.load(str(federation / "ISLES/rawdata/sub-strokecase0001/ses-0001/dwi/sub-strokecase0001_ses-0001_dwi.nii.gz"))
    assert flair.shape != dwi.shape and not np.allclose(flair.affine, dwi.affine)
    t1 = nib.load(str(federation / "TTG/TTG_001/TTG_001_T1.nii.gz"))
    t2 = nib.load(str(federation / "TTG/TTG_001/TTG_001_T2.nii.gz"))
    assert t1.shape[2] == 24 and t1.header.get_zooms()[2] == 6.0
    assert not np.allclose(t1.affine[:3, :3] / np.abs(t1.header.get_zooms()), np.diag([-1, -1, 1]), atol=1e-3)  # oblique
    assert brats.shape[2] > t1.shape[2]
    assert np.asarray(brats.dataobj)[0, 0, 0] == 0  # skull-stripped background
    assert np.allclose(t1.affine, t2.affine)  # same slice stack, but the subject moved (tested in prepare)


def test_tti_cases_miss_some_but_not_all(federation: Path) -> None:
    """The written cases, and the subset rule itself over many draws (every size from 1 to 3 occurs)."""
    for case in (federation / "TTI").iterdir():
        if case.is_dir():
            count = len(list(case.glob("*.nii.gz")))
            assert 1 <= count <= 3, f"{case.name} has {count} of 4 modalities"
    rng = np.random.default_rng(3)
    sizes = {len(random_subset(rng, SITE["TTI"].modalities)) for _ in range(200)}
    assert sizes == {1, 2, 3}


def _written_and_fractions(federation: Path, site_name: str, paths: dict[str, str]):
    """Re-create case 1 of a site with the federation's seed: its tissue fractions on the grid
    shared by the co-registered modalities, and the written volumes on that grid."""
    site = SITE[site_name]
    synthesizer = CaseSynthesizer(site, 2, True, np.random.default_rng([SEED, site.dataset_id]))
    case = synthesizer.make("x", site.modalities)
    volumes = {m: np.asarray(nib.load(str(federation / p)).dataobj).astype(np.float32) for m, p in paths.items()}
    for modality, volume in volumes.items():
        assert np.array_equal(volume, case.images[modality].data.astype(np.float32))  # the file is this case
    fractions, _ = synthesizer.fractions(grid_points(synthesizer.grid, case.label.affine), np.eye(4))
    shape = volumes[next(iter(volumes))].shape
    return volumes, {t: f.reshape(shape) for t, f in fractions.items()}


def _mean(volume: np.ndarray, fraction: np.ndarray) -> float:
    return float(volume[fraction > 0.9].mean())


def test_tissue_contrast_ordering_on_brats(federation: Path) -> None:
    names = {m: f"BraTS/BraTS2021_00001/BraTS2021_00001_{s}.nii.gz" for m, s in
             (("T1", "t1"), ("T2", "t2"), ("T1C", "t1ce"), ("FLAIR", "flair"))}
    volumes, f = _written_and_fractions(federation, "BraTS", names)
    t1, t2, flair, t1c = volumes["T1"], volumes["T2"], volumes["FLAIR"], volumes["T1C"]
    assert _mean(t1, f["wm"]) > _mean(t1, f["gm"]) > _mean(t1, f["csf"])
    assert _mean(t2, f["csf"]) > _mean(t2, f["gm"]) > _mean(t2, f["wm"])
    assert _mean(flair, f["csf"]) < min(_mean(flair, f["wm"]), _mean(flair, f["gm"]))
    rim = f["enhancing"] > 0.6
    rim_t1c = t1c[rim].mean() / _mean(t1c, f["wm"])
    rim_t1 = t1[rim].mean() / _mean(t1, f["wm"])
    assert rim_t1c > rim_t1 * 1.3, (rim_t1c, rim_t1)


def _infarct_contrast(stage: str) -> dict[str, float]:
    """ISLES case 1 with its infarct set to `stage`: infarct / healthy brain (grey and white matter
    voxels > 0.9) per modality, each on its own grid and position."""
    site = SITE["ISLES"]
    synthesizer = CaseSynthesizer(site, 2, True, np.random.default_rng([SEED, site.dataset_id]))
    synthesizer.pathology = dataclasses.replace(synthesizer.pathology, stage=stage)
    case = synthesizer.make("x", site.modalities)
    contrast = {}
    for modality, volume in case.images.items():
        grid = synthesizer.flair_grid if modality == "FLAIR" else synthesizer.grid
        fractions, _ = synthesizer.fractions(grid_points(grid, volume.affine), case.motions[modality])
        values = volume.data.reshape(-1).astype(np.float32)
        infarct = fractions[f"infarct_{stage}"] > 0.6
        healthy = (fractions["gm"] > 0.9) | (fractions["wm"] > 0.9)
        assert infarct.sum() > 3
        contrast[modality] = float(values[infarct].mean() / values[healthy].mean())
    return contrast


def test_an_infarct_is_bright_on_dwi_at_every_age_and_on_flair_or_adc_by_its_age() -> None:
    """Hours old: dark on ADC, unseen on FLAIR (the DWI-FLAIR mismatch); a day: both; a week:
    bright on FLAIR, ADC back to normal. DWI shows all three, which is why it is the stroke sequence."""
    hyperacute, acute, subacute = (_infarct_contrast(stage) for stage in INFARCT_STAGES)
    assert min(hyperacute["DWI"], acute["DWI"], subacute["DWI"]) > 1.4, (hyperacute, acute, subacute)
    assert hyperacute["ADC"] < 0.7 and acute["ADC"] < 0.7 and 0.85 < subacute["ADC"] < 1.2
    assert 0.9 < hyperacute["FLAIR"] < 1.1 and acute["FLAIR"] > 1.25 and subacute["FLAIR"] > 1.5


def test_adc_is_computed_from_the_dwi_acquisition() -> None:
    """ln(S0 / S1000) / b gives every tissue's diffusivity back and cancels a coil's field; DWI and
    ADC of a case share grid and position even where the subject moves between sequences (TTG)."""
    protocol = SITE["ISLES"].protocol
    for name, tissue in TISSUES.items():
        b0, dwi = tissue_signal(B0, tissue, protocol), tissue_signal("DWI", tissue, protocol)
        if b0 < 1e-3:  # bone: no signal left at the diffusion echo time, so no map there
            continue
        field = np.array([0.7, 1.0, 1.4], dtype=np.float32)
        adc = apparent_diffusion(b0 * field, dwi * field)
        assert np.allclose(adc, min(tissue.adc * 1000, ADC_MAX), rtol=1e-4), name
    site = SITE["TTG"]
    case = CaseSynthesizer(site, 2, True, np.random.default_rng([SEED, site.dataset_id])).make("x", site.modalities)
    assert np.array_equal(case.images["ADC"].affine, case.images["DWI"].affine)
    assert np.array_equal(case.motions["ADC"], case.motions["DWI"])
    assert not np.array_equal(case.motions["T2"], case.motions["DWI"])


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    """`pmm phantom` and the library write the same bytes for the same seed (compared on BraTS and
    ISLES; the prepared phantom's TTG and TTI come from the same writer); another seed differs."""
    result = run_pmm("phantom", "--out", str(tmp_path / "a"), "--cases-per-site", "1", "--seed", "11", "--quiet")
    assert result.returncode == 0, result.stderr
    # the library, one site at a time (as the prepared phantom's parallel writers call it)
    for site in ("BraTS", "ISLES"):
        write_federation(tmp_path / "b", cases_per_site=1, seed=11, progress=False, sites=(site,))
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
                   and p.relative_to(tmp_path / "a").parts[0] in ("BraTS", "ISLES"))
    assert len(files) > 8
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", [str(f) for f in files], shallow=False)
    assert not mismatch and not errors
    write_federation(tmp_path / "c", cases_per_site=1, seed=12, progress=False, sites=("BraTS",))
    assert not filecmp.cmp(tmp_path / "a/BraTS/BraTS2021_00001/BraTS2021_00001_t1.nii.gz",
                           tmp_path / "c/BraTS/BraTS2021_00001/BraTS2021_00001_t1.nii.gz", shallow=False)


def test_bad_size_is_one_line(tmp_path: Path) -> None:
    result = run_pmm("phantom", "--out", str(tmp_path / "x"), "--size", "huge")
    assert result.returncode == 2 and "pmm: error: --size 'huge'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x").exists()


def test_template_maps_are_cached_bit_for_bit_and_a_broken_cache_is_rebuilt(tmp_path: Path, monkeypatch) -> None:
    """Every phantom process reads the MNI maps from the user's cache after the first builds them:
    the same arrays to the bit (so the same seed still writes the same bytes), and a cache file
    that cannot be read is built again and replaced whole."""
    import dataclasses

    from pmm_core.phantom import anatomy

    monkeypatch.setenv("PMM_TEMPLATE_CACHE", str(tmp_path))
    built = anatomy.template_maps.__wrapped__(2)  # past the in-process cache: builds and stores
    stored = anatomy.maps_cache_file(2)
    assert stored.parent == tmp_path and stored.is_file() and not list(tmp_path.glob("*.tmp"))
    read = anatomy.template_maps.__wrapped__(2)
    for field in dataclasses.fields(anatomy.TemplateMaps):
        assert getattr(read, field.name).dtype == getattr(built, field.name).dtype
        np.testing.assert_array_equal(getattr(read, field.name), getattr(built, field.name))
    stored.write_bytes(b"cut short")
    again = anatomy.template_maps.__wrapped__(2)
    np.testing.assert_array_equal(again.vessel, built.vessel)
    with np.load(stored) as rewritten:
        np.testing.assert_array_equal(rewritten["gm"], built.gm)
