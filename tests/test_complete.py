"""`pmm complete` (BraTS names, ISLES'22 BIDS, a DICOM generic site) and DICOM in and out of
`pmm synthesize`, against a tiny model trained in this module on the three test sites."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.uid import BasicTextSRStorage, generate_uid

from pmm.centralized.run_central import run_central
from pmm.centralized.trainer import RunSettings
from conftest import mlflow_store, run_pmm, tiny_training_options, write_site_toml
from pmm_core.config.site import load_site
from pmm_core.data.nifti_io import read_volume
from pmm_core.data.readers import discover_cases
from pmm_core.errors import CaseError
from pmm_core.phantom.dicom_export import Acquisition, write_acquired_series
from pmm.tracking import TrackingSettings


@pytest.fixture(scope="module")
def trained(prepared_sites: Path, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("complete")
    env = {"PMM_SITES_DIR": str(prepared_sites.parent / "sites"), "PMM_CACHE_DIR": str(prepared_sites)}
    run_central(tiny_training_options(1), [prepared_sites / s for s in ("GEN", "BraTS", "ISLES")],
                RunSettings(run_dir=folder / "run", checkpoint_every=0, progress=False),
                TrackingSettings(experiment="test", tracking_uri=mlflow_store(folder / "mlflow.db")), echo=lambda _: None)
    return {"checkpoint": str(folder / "run" / "best.pt"), "env": env, "data": prepared_sites.parent / "data"}


def _complete(trained: dict, *args: str):
    return run_pmm("complete", "--checkpoint", trained["checkpoint"], "--quiet", *args, env=trained["env"])


def _same_grid(written: Path, reference: Path) -> bool:
    a, b = nib.load(str(written)), nib.load(str(reference))
    return a.shape == b.shape and np.allclose(a.affine, b.affine, atol=1e-4)


def test_complete_fills_brats_t1c_under_brats_names_and_resumes(trained: dict, tmp_path: Path) -> None:
    cohort = tmp_path / "incoming"
    shutil.copytree(trained["data"] / "BraTS", cohort)
    (cohort / "BraTS-GLI-00000-000" / "BraTS-GLI-00000-000-t1c.nii.gz").unlink()   # 2023 names
    (cohort / "BraTS2021_00001" / "BraTS2021_00001_t1ce.nii.gz").unlink()          # 2021 names
    out = tmp_path / "completed"
    first = _complete(trained, "--site", "brats", "--cohort", str(cohort), "--out", str(out))
    assert first.returncode == 0, first.stderr[-2000:]
    assert "3 cases: 2 completed now (2 files synthesized), 0 finished earlier, 1 lacked nothing" in first.stdout

    new = out / "BraTS-GLI-00000-000" / "BraTS-GLI-00000-000-t1c.nii.gz"
    old = out / "BraTS2021_00001" / "BraTS2021_00001_t1ce.nii.gz"
    for written, reference in ((new, cohort / "BraTS-GLI-00000-000" / "BraTS-GLI-00000-000-t1n.nii.gz"),
                               (old, cohort / "BraTS2021_00001" / "BraTS2021_00001_t1.nii.gz")):
        assert not written.is_symlink() and _same_grid(written, reference)
        assert bytes(nib.load(str(written)).header["descrip"]).startswith(b"SYNTHETIC pmm T1C from T1+T2+FLAIR")
        sidecar = json.loads(written.with_name(written.name.replace(".nii.gz", ".json")).read_text())
        assert sidecar["Synthetic"] is True and sidecar["Modality"] == "T1C" and sidecar["Site"] == "BraTS"
        assert sidecar["IntensityScale"].startswith("scanner units")
        assert nib.load(str(written)).get_fdata().max() > 50  # the site's scanner scale, not [0, 1]
    real = out / "BraTS2021_00001" / "BraTS2021_00001_flair.nii.gz"
    assert real.is_symlink() and real.resolve() == (cohort / "BraTS2021_00001" / "BraTS2021_00001_flair.nii.gz").resolve()
    assert (out / "BraTS2021_00002" / "BraTS2021_00002_t1ce.nii.gz").is_symlink()  # acquired: linked, not redone

    manifest = json.loads((out / "pmm_completion.json").read_text())
    assert sorted(e["Path"] for e in manifest["SynthesizedFiles"]) == sorted(
        str(p.relative_to(out)) for p in (new, old))
    assert len(manifest["CheckpointSHA256"]) == 64 and manifest["Layout"] == "brats" and not manifest["Failed"]
    # the completed copy reads as a BraTS site in which every case has all four modalities
    sources, problems = discover_cases(load_site(Path(trained["env"]["PMM_SITES_DIR"]) / "brats.toml")
                                       .model_copy(update={"root": out}))
    assert not problems and all(len(s.files) == 4 for s in sources)

    mtime = new.stat().st_mtime_ns
    second = _complete(trained, "--site", "brats", "--cohort", str(cohort), "--out", str(out))
    assert second.returncode == 0 and "0 completed now (0 files synthesized), 2 finished earlier" in second.stdout
    assert new.stat().st_mtime_ns == mtime
    assert _complete(trained, "--site", "brats", "--cohort", str(cohort), "--out", str(cohort / "x")).returncode == 2


def test_complete_fills_isles_dwi_in_bids_and_reports_a_bad_case(trained: dict, tmp_path: Path) -> None:
    cohort = tmp_path / "isles"
    shutil.copytree(trained["data"] / "ISLES", cohort)
    (cohort / "dataset_description.json").write_text('{"Name": "ISLES 2022", "BIDSVersion": "1.6.0"}')
    for index in (0, 1, 2):
        (cohort / "rawdata" / f"sub-strokecase{index:04d}" / "ses-0001" / "dwi"
         / f"sub-strokecase{index:04d}_ses-0001_dwi.nii.gz").unlink()
    bad = cohort / "rawdata" / "sub-strokecase0002" / "ses-0001" / "dwi" / "sub-strokecase0002_ses-0001_adc.nii.gz"
    bad.write_bytes(bad.read_bytes()[:300])
    out = tmp_path / "completed"
    result = _complete(trained, "--site", "isles", "--cohort", str(cohort), "--out", str(out), "--targets", "DWI")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "2 completed now (2 files synthesized)" in result.stdout and "1 failed" in result.stdout
    assert f"failed sub-strokecase0002_ses-0001: {bad}: corrupt or unreadable NIfTI" in result.stdout
    assert "Traceback" not in result.stderr

    session = out / "rawdata" / "sub-strokecase0000" / "ses-0001"
    dwi = session / "dwi" / "sub-strokecase0000_ses-0001_dwi.nii.gz"
    assert _same_grid(dwi, cohort / "rawdata" / "sub-strokecase0000" / "ses-0001" / "anat"
                      / "sub-strokecase0000_ses-0001_FLAIR.nii.gz")  # ISLES' reference is FLAIR
    assert json.loads((session / "dwi" / "sub-strokecase0000_ses-0001_dwi.json").read_text())["SourceModalities"] == [
        "FLAIR", "ADC"]
    assert (out / "derivatives" / "sub-strokecase0000" / "ses-0001" / "sub-strokecase0000_ses-0001_msk.nii.gz").is_symlink()
    assert (out / "dataset_description.json").is_symlink()
    assert not (out / "rawdata" / "sub-strokecase0002").exists()  # the failed case leaves nothing behind
    manifest = json.loads((out / "pmm_completion.json").read_text())
    assert [f["Case"] for f in manifest["Failed"]] == ["sub-strokecase0002_ses-0001"]
    assert len(manifest["SynthesizedFiles"]) == 2


def _dicom_case(nifti_case: Path, folder: Path, modalities: tuple[str, ...]) -> dict[str, Path]:
    """The case's NIfTI files exported as DICOM series folders (one study), as a scanner would."""
    study, frame = generate_uid(), generate_uid()
    series = {}
    for number, modality in enumerate(modalities, start=1):
        image = read_volume(nifti_case / f"{nifti_case.name}_{modality}.nii.gz")
        series[modality] = write_acquired_series(image, folder / f"{nifti_case.name}_{modality}",
                                                 Acquisition(nifti_case.name, study, number, modality, frame))
    return series


def test_synthesize_reads_dicom_and_writes_a_labelled_series_on_the_reference_geometry(trained: dict,
                                                                                      tmp_path: Path) -> None:
    series = _dicom_case(trained["data"] / "GEN" / "case00", tmp_path / "dicom", ("T1", "T2"))
    checkpoint = tmp_path / "modèle été.pt"  # a name outside the reference's (ASCII) character set
    shutil.copy(trained["checkpoint"], checkpoint)
    common = ("synthesize", "--checkpoint", str(checkpoint), "--site", "gen", "--input", f"T1={series['T1']}",
              "--input", f"T2={series['T2']}", "--target", "FLAIR")
    out = tmp_path / "out" / "FLAIR_synthetic"
    result = run_pmm(*common, "--out", str(out), "--out-format", "dicom", env=trained["env"])
    assert result.returncode == 0 and "Failed to encode" not in result.stderr, result.stderr[-2000:]
    nifti = tmp_path / "out" / "flair.nii.gz"
    assert run_pmm(*common, "--out", str(nifti), env=trained["env"]).returncode == 0

    reference = sorted((pydicom.dcmread(p) for p in series["T1"].iterdir()), key=lambda d: int(d.InstanceNumber))
    written = sorted((pydicom.dcmread(p) for p in out.iterdir()), key=lambda d: int(d.InstanceNumber))
    assert len(written) == len(reference)
    assert len({d.SeriesInstanceUID for d in written}) == 1 and written[0].SeriesInstanceUID != reference[0].SeriesInstanceUID
    assert not {d.SOPInstanceUID for d in written} & {d.SOPInstanceUID for d in reference}
    for ours, theirs in zip(written, reference):
        assert list(ours.ImageType) == ["DERIVED", "SECONDARY"] and ours.SeriesDescription.startswith("SYNTHETIC")
        assert ours.PatientID == theirs.PatientID and ours.StudyInstanceUID == theirs.StudyInstanceUID
        assert ours.FrameOfReferenceUID == theirs.FrameOfReferenceUID
        assert np.allclose(ours.ImagePositionPatient, theirs.ImagePositionPatient, atol=1e-4)
        assert np.allclose(ours.ImageOrientationPatient, theirs.ImageOrientationPatient, atol=1e-6)
        assert np.allclose(ours.PixelSpacing, theirs.PixelSpacing) and float(ours.SliceThickness) == float(theirs.SliceThickness)
        assert "checkpoint modèle été.pt" in ours.DerivationDescription and "not an acquisition" in ours.DerivationDescription
    assert json.loads((tmp_path / "out" / "FLAIR_synthetic.json").read_text())["Synthetic"] is True

    # the series holds the same synthesis as the NIfTI output, to within its 16-bit quantisation
    from_dicom = sitk.GetArrayFromImage(read_volume(out))
    from_nifti = np.transpose(nib.load(str(nifti)).get_fdata(), (2, 1, 0))
    assert from_dicom.shape == from_nifti.shape
    assert np.abs(from_dicom - from_nifti).max() <= from_nifti.max() / 65535 * 2 + 1e-3


def test_complete_writes_a_dicom_site_as_dicom_series(trained: dict, tmp_path: Path) -> None:
    root = tmp_path / "hospital"
    for case in ("case00", "case02"):
        _dicom_case(trained["data"] / "GEN" / case, root / case, ("T1", "T2"))  # both lack FLAIR
    toml = write_site_toml(tmp_path, "gen", (Path(trained["env"]["PMM_SITES_DIR"]) / "gen.toml").read_text()
                           .replace('"*_T1.nii.gz"', '"*_T1"').replace('"*_T2.nii.gz"', '"*_T2"')
                           .replace('"*_FLAIR.nii.gz"', '"*_FLAIR"').replace('root = "../data/GEN"', f'root = "{root}"'))
    out = tmp_path / "completed"
    result = _complete(trained, "--site", str(toml), "--out", str(out), "--out-format", "dicom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2 completed now (2 files synthesized)" in result.stdout
    flair = out / "case00" / "case00_FLAIR"
    first = pydicom.dcmread(sorted(flair.iterdir())[0])
    assert first.SeriesDescription.startswith("SYNTHETIC") and list(first.ImageType) == ["DERIVED", "SECONDARY"]
    assert (out / "case00" / "case00_T1").is_dir() and all(p.is_symlink() for p in (out / "case00" / "case00_T1").iterdir())
    sources, problems = discover_cases(load_site(toml).model_copy(update={"root": out}))
    assert not problems and all(set(s.files) == {"T1", "T2", "FLAIR"} for s in sources)
    refused = _complete(trained, "--site", "brats", "--out", str(tmp_path / "b"), "--out-format", "dicom")
    assert refused.returncode == 2 and "layout is NIfTI by definition" in refused.stderr


def _series(tmp_path: Path, trained: dict, name: str = "T1") -> Path:
    image = read_volume(trained["data"] / "GEN" / "case00" / "case00_T1.nii.gz")
    return write_acquired_series(image, tmp_path / name, Acquisition("P", generate_uid(), 1, name, generate_uid()))


def test_dicom_folders_that_are_not_one_clean_series_are_refused_with_one_line(trained: dict, tmp_path: Path,
                                                                               capfd) -> None:
    two = _series(tmp_path, trained, "two")
    other = _series(tmp_path, trained, "other")
    for index, path in enumerate(sorted(other.iterdir())[:3]):
        shutil.copy(path, two / f"X{index}.dcm")
    with pytest.raises(CaseError, match=r"two: holds 2 DICOM series"):
        read_volume(two)

    gap = _series(tmp_path, trained, "gap")
    sorted(gap.iterdir())[5].unlink()
    with pytest.raises(CaseError, match=r"gap: inconsistent slice spacing"):
        read_volume(gap)

    report = _series(tmp_path, trained, "report")
    sr = Dataset()
    sr.SOPClassUID, sr.SOPInstanceUID, sr.SeriesInstanceUID, sr.Modality = BasicTextSRStorage, generate_uid(), generate_uid(), "SR"
    sr.file_meta = pydicom.dataset.FileMetaDataset()
    sr.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    sr.file_meta.MediaStorageSOPClassUID, sr.file_meta.MediaStorageSOPInstanceUID = sr.SOPClassUID, sr.SOPInstanceUID
    sr.save_as(report / "SR0001.dcm", enforce_file_format=True)
    (report / "manifest.txt").write_text("exported by PACS\n")   # what exports put beside the slices
    (report / "thumbnail.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a dicom")
    clean = read_volume(_series(tmp_path, trained, "clean"))
    with_extras = read_volume(report)                              # the same slices, the extras skipped
    assert np.array_equal(sitk.GetArrayFromImage(with_extras), sitk.GetArrayFromImage(clean))
    captured = capfd.readouterr().err
    assert "SR0001.dcm: a DICOM Basic Text SR Storage object, not an image slice" in captured
    assert "manifest.txt: not a DICOM file; skipped" in captured and "thumbnail.jpg: not a DICOM file; skipped" in captured

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(CaseError, match=r"empty: holds no DICOM image slice"):
        read_volume(tmp_path / "empty")

    out = tmp_path / "o.nii.gz"
    result = run_pmm("synthesize", "--checkpoint", trained["checkpoint"], "--site", "gen", "--input", f"T1={two}",
                     "--target", "FLAIR", "--out", str(out), env=trained["env"])
    assert result.returncode == 2 and f"{two}: holds 2 DICOM series" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))
