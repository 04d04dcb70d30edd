"""Each layout is read with real geometry; each bad input is one line from `pmm prepare`."""
from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from conftest import run_pmm
from pmm_core.config.site import load_site
from pmm_core.data.nifti_io import read_volume, sitk_to_affine
from pmm_core.data.readers import discover_cases, load_case
from synthetic import grid_affine, write_volume


def test_nifti_reader_matches_simpleitk_on_an_oblique_affine(tmp_path: Path) -> None:
    affine = grid_affine((10, 12, 8), (1.2, 0.9, 5.0), rotation_deg=(7, -4, 12))
    data = np.random.default_rng(0).random((10, 12, 8)).astype(np.float32)
    path = write_volume(tmp_path / "x.nii.gz", data, affine)
    ours, theirs = read_volume(path), sitk.ReadImage(str(path))
    assert np.allclose(ours.GetOrigin(), theirs.GetOrigin(), atol=1e-4)
    assert np.allclose(ours.GetDirection(), theirs.GetDirection(), atol=1e-5)
    assert np.allclose(ours.GetSpacing(), theirs.GetSpacing(), atol=1e-5)
    assert np.array_equal(sitk.GetArrayFromImage(ours), sitk.GetArrayFromImage(theirs))
    assert np.allclose(sitk_to_affine(ours), nib.load(str(path)).affine, atol=1e-4)


def test_generic_layout(generic_site: Path) -> None:
    site = load_site(generic_site)
    sources, problems = discover_cases(site)
    assert not problems and [s.case_id for s in sources] == ["case00", "case01", "case02"]
    assert sources[1].modalities == ("T1", "T2")
    record = load_case(sources[0], site)
    assert record.availability == (1, 1, 0, 1, 0, 0) and record.label is not None
    t1_file = nib.load(str(sources[0].files["T1"]))
    assert np.allclose(sitk_to_affine(record.images["T1"]), t1_file.affine, atol=1e-4)
    assert record.images["T2"].GetSpacing() != record.images["T1"].GetSpacing()


def test_brats_layout_reads_2021_and_2023_names(brats_site: Path) -> None:
    site = load_site(brats_site)
    sources, problems = discover_cases(site)
    assert not problems and len(sources) == 3
    assert all(s.modalities == ("T1", "T2", "T1C", "FLAIR") and s.label is not None for s in sources)
    assert sources[0].case_id == "BraTS-GLI-00000-000" and sources[0].files["FLAIR"].name.endswith("-t2f.nii.gz")


def test_isles_layout_reads_bids_with_and_without_rawdata(isles_site: Path) -> None:
    site = load_site(isles_site)
    sources, _ = discover_cases(site)
    assert [s.case_id for s in sources][0] == "sub-strokecase0000_ses-0001"
    assert all(s.modalities == ("FLAIR", "DWI", "ADC") and s.label is not None for s in sources)
    raw = site.root / "rawdata"
    for subject in raw.iterdir():  # a copy without the rawdata/ level
        shutil.move(str(subject), str(site.root / subject.name))
    raw.rmdir()
    assert len(discover_cases(site)[0]) == 3


def _prepare_error(toml: Path, tmp_path: Path) -> tuple[int, str]:
    result = run_pmm("prepare", "--site", str(toml), "--cache-dir", str(tmp_path / "cache"), "--workers", "1", "--quiet")
    assert "Traceback" not in result.stderr + result.stdout
    return result.returncode, result.stdout + result.stderr


def test_empty_case_folder_is_reported_and_skipped(generic_site: Path, tmp_path: Path) -> None:
    (tmp_path / "data" / "GEN" / "empty_case").mkdir()
    code, output = _prepare_error(generic_site, tmp_path)
    assert code == 1
    assert "empty_case: " in output and "none of site GEN's files found" in output
    assert "site GEN: 3 cases" in output  # the good cases were still prepared


def test_two_files_matching_one_glob(generic_site: Path, tmp_path: Path) -> None:
    case = tmp_path / "data" / "GEN" / "case00"
    shutil.copy(case / "case00_T1.nii.gz", case / "case00_b_T1.nii.gz")
    code, output = _prepare_error(generic_site, tmp_path)
    assert code == 1 and "2 files match the T1 glob '*_T1.nii.gz'" in output and "case00_b_T1.nii.gz" in output


def test_corrupt_file(generic_site: Path, tmp_path: Path) -> None:
    path = tmp_path / "data" / "GEN" / "case02" / "case02_T2.nii.gz"
    path.write_bytes(path.read_bytes()[:300])
    code, output = _prepare_error(generic_site, tmp_path)
    assert code == 1 and f"{path}: corrupt or unreadable NIfTI" in output


def test_non_3d_image(generic_site: Path, tmp_path: Path) -> None:
    path = tmp_path / "data" / "GEN" / "case02" / "case02_FLAIR.nii.gz"
    write_volume(path, np.zeros((8, 8, 4, 3), np.float32), np.eye(4))
    code, output = _prepare_error(generic_site, tmp_path)
    assert code == 1 and f"{path}: image is 4D with shape (8, 8, 4, 3)" in output


def test_undeclared_modality_is_a_config_error(generic_site: Path, tmp_path: Path) -> None:
    text = generic_site.read_text().replace('FLAIR = "*_FLAIR.nii.gz"', 'FLAIR = "*_FLAIR.nii.gz"\nDWI = "*_DWI.nii.gz"')
    generic_site.write_text(text)
    code, output = _prepare_error(generic_site, tmp_path)
    assert code == 2
    assert output.strip().count("\n") == 0 and str(generic_site) in output and "'DWI' is a modality the site does not declare" in output


def test_missing_root_is_one_line(generic_site: Path, tmp_path: Path) -> None:
    shutil.rmtree(tmp_path / "data" / "GEN")
    code, output = _prepare_error(generic_site, tmp_path)
    assert code == 2 and output.strip().count("\n") == 0 and "root folder not found" in output


def _replace_voxels(path: Path, data: np.ndarray) -> None:
    write_volume(path, data, nib.load(str(path)).affine)


def test_all_nan_image_names_the_file(generic_site: Path, tmp_path: Path) -> None:
    path = tmp_path / "data" / "GEN" / "case02" / "case02_T2.nii.gz"
    _replace_voxels(path, np.full(nib.load(str(path)).shape, np.nan, np.float32))
    code, output = _prepare_error(generic_site, tmp_path)
    assert code == 1 and f"{path}: every voxel is NaN or infinite" in output and "Traceback" not in output
    assert "site GEN: 2 cases" in output  # the other cases were still prepared


def test_complex_image_names_the_file(generic_site: Path, tmp_path: Path) -> None:
    path = tmp_path / "data" / "GEN" / "case02" / "case02_T2.nii.gz"
    volume = np.asarray(nib.load(str(path)).dataobj).astype(np.complex64) * (1 + 1j)
    _replace_voxels(path, volume)
    code, output = _prepare_error(generic_site, tmp_path)
    assert code == 1 and f"{path}: complex-valued image (dtype complex64)" in output


def test_constant_image_names_the_file_but_an_empty_label_is_fine(generic_site: Path, tmp_path: Path) -> None:
    path = tmp_path / "data" / "GEN" / "case02" / "case02_T2.nii.gz"
    _replace_voxels(path, np.zeros(nib.load(str(path)).shape, np.float32))
    label = tmp_path / "data" / "GEN" / "case00" / "case00_seg.nii.gz"
    _replace_voxels(label, np.zeros(nib.load(str(label)).shape, np.uint8))
    code, output = _prepare_error(generic_site, tmp_path)
    assert code == 1 and f"{path}: the image is constant (every voxel is 0)" in output
    assert "case00" not in output.split("skipped")[-1]  # the case with an empty label was prepared


def test_a_series_elsewhere_in_space_is_skipped_naming_the_file(generic_site: Path, tmp_path: Path) -> None:
    """T2 of another place in space: nothing overlaps, so it cannot be aligned."""
    path = tmp_path / "data" / "GEN" / "case02" / "case02_T2.nii.gz"
    image = nib.load(str(path))
    affine = image.affine.copy()
    affine[:3, 3] += 400.0
    write_volume(path, np.asarray(image.dataobj).astype(np.float32), affine)
    code, output = _prepare_error(generic_site, tmp_path)
    assert code == 1 and f"skipped case02: {path}: cannot be aligned with T1" in output
    assert "site GEN: 2 cases" in output


def test_a_series_covering_little_of_the_brain_is_skipped_at_preparation(generic_site: Path, tmp_path: Path) -> None:
    """A T2 slab of 5 slices (40 mm) aligns, but leaves most of the reference brain empty."""
    path = tmp_path / "data" / "GEN" / "case02" / "case02_T2.nii.gz"
    image = nib.load(str(path))
    write_volume(path, np.asarray(image.dataobj)[:, :, 7:12].astype(np.float32), image.affine)
    code, output = _prepare_error(generic_site, tmp_path)
    assert code == 1 and f"{path}: after alignment with T1 it covers only" in output, output
    assert "of the brain (needs 50%)" in output and "site GEN: 2 cases" in output
