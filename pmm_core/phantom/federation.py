"""Write the phantom federation: four sites in their native layouts, their TOMLs and montages.

`DIR/TTG`, `DIR/TTI` (one folder per case), `DIR/BraTS` (BraTS 2021 names), `DIR/ISLES`
(ISLES'22 BIDS with derivatives), `DIR/sites/{ttg,tti,brats,isles}.toml`, and
`DIR/<SITE>/montage.png`. The same seed writes the same bytes (gzip without timestamps).
With `dicom=True` the in-house sites (TTG, TTI) are written as a scanner exports them instead:
one DICOM series folder per modality (`DIR/TTG/TTG_001/TTG_001_T1/IM0001.dcm …`, one study per
case), and their TOML globs match those folders; labels stay NIfTI.
"""
from __future__ import annotations

import gzip
import io
from pathlib import Path

import nibabel as nib
import numpy as np
from tqdm.auto import tqdm

from pmm_core.data.nifti_io import array_to_sitk
from pmm_core.errors import PmmError
from pmm_core.phantom.dicom_export import Acquisition, write_acquired_series
from pmm_core.phantom.generator import CaseSynthesizer, PhantomCase, PhantomVolume
from pmm_core.phantom.montage import write_montage
from pmm_core.phantom.sites import SITES, PhantomSite

TEST_PREPROCESS = {"crop_size": 64, "in_plane_spacing": 3.0}
BRATS_NAMES = {"T1": "t1", "T1C": "t1ce", "T2": "t2", "FLAIR": "flair"}


GZIP_LEVEL = 1  # nibabel's own default for .nii.gz; level 9 took 4-8x as long for files 0-5 % smaller (bench/phantom_speed)


def write_nifti(volume: PhantomVolume, path: Path, compresslevel: int = GZIP_LEVEL) -> None:
    """NIfTI-1 with qform and sform set, gzip with mtime 0 so files are byte-reproducible."""
    image = nib.Nifti1Image(volume.data, volume.affine)
    image.set_qform(volume.affine, code=1)
    image.set_sform(volume.affine, code=1)
    image.header.set_xyzt_units("mm", "sec")
    buffer = io.BytesIO()
    file_map = image.make_file_map({"image": buffer, "header": buffer})
    image.to_file_map(file_map)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="",
                                           compresslevel=compresslevel) as stream:
        stream.write(buffer.getvalue())


def case_paths(site: PhantomSite, root: Path, case_id: str, index: int, dicom: bool = False) -> dict[str, Path]:
    """Where each modality (and 'label') of a case goes in the site's native layout (a DICOM
    series folder per modality for a generic site written as DICOM)."""
    if site.layout == "brats":
        folder = root / case_id
        paths = {m: folder / f"{case_id}_{BRATS_NAMES[m]}.nii.gz" for m in site.modalities}
        return paths | {"label": folder / f"{case_id}_seg.nii.gz"}
    if site.layout == "isles2022":
        subject, session = f"sub-strokecase{index + 1:04d}", "ses-0001"
        base, stem = root / "rawdata" / subject / session, f"{subject}_{session}"
        return {"DWI": base / "dwi" / f"{stem}_dwi.nii.gz", "ADC": base / "dwi" / f"{stem}_adc.nii.gz",
                "FLAIR": base / "anat" / f"{stem}_FLAIR.nii.gz",
                "label": root / "derivatives" / subject / session / f"{stem}_msk.nii.gz"}
    folder = root / case_id
    paths = {m: folder / (f"{case_id}_{m}" if dicom else f"{case_id}_{m}.nii.gz") for m in site.modalities}
    return paths | {"label": folder / f"{case_id}_seg.nii.gz"} if site.pathology == "glioma" else paths


def case_id_for(site: PhantomSite, index: int) -> str:
    if site.layout == "brats":
        return f"BraTS2021_{index + 1:05d}"
    if site.layout == "isles2022":
        return f"sub-strokecase{index + 1:04d}_ses-0001"
    return f"{site.name}_{index + 1:03d}"


def random_subset(rng: np.random.Generator, modalities: tuple[str, ...]) -> tuple[str, ...]:
    """A non-empty, non-complete subset (TTI: every case misses something)."""
    count = int(rng.integers(1, len(modalities)))
    chosen = set(rng.choice(len(modalities), size=count, replace=False).tolist())
    return tuple(m for i, m in enumerate(modalities) if i in chosen)


def writes_dicom(site: PhantomSite, dicom: bool) -> bool:
    """DICOM series are written for the in-house (generic) sites; BraTS and ISLES'22 are NIfTI releases."""
    return dicom and site.layout == "generic"


def site_toml(site: PhantomSite, test_size: bool, dicom: bool = False) -> str:
    lines = [f'name = "{site.name}"', f"dataset_id = {site.dataset_id}", f'root = "../{site.name}"',
             f'layout = "{site.layout}"', "modalities = [" + ", ".join(f'"{m}"' for m in site.modalities) + "]"]
    if site.layout == "generic":
        if site.pathology == "glioma":
            lines.append('label = "*_seg.nii.gz"')
        suffix = "" if dicom else ".nii.gz"
        lines += ["", "[files]"] + [f'{m} = "*_{m}{suffix}"' for m in site.modalities]
    lines += ["", "[preprocess]"]
    if test_size:
        lines += [f"{key} = {value}" for key, value in TEST_PREPROCESS.items()]
    return "\n".join(lines) + "\n"


def write_case(site: PhantomSite, root: Path, case: PhantomCase, index: int, dicom: bool = False) -> None:
    paths = case_paths(site, root, case.case_id, index, dicom)
    from pydicom.uid import generate_uid  # pydicom only where DICOM UIDs are made

    study, frame = (generate_uid(entropy_srcs=[site.name, case.case_id, part]) for part in ("study", "frame"))
    for number, (modality, volume) in enumerate(case.images.items(), start=1):
        if dicom:
            acquisition = Acquisition(case.case_id, study, number, modality, frame)
            write_acquired_series(array_to_sitk(volume.data, volume.affine), paths[modality], acquisition)
        else:
            write_nifti(volume, paths[modality])
    if case.label is not None and "label" in paths:
        write_nifti(case.label, paths["label"])


def write_federation(out: Path, cases_per_site: int = 3, seed: int = 0, size: str = "test",
                     progress: bool = True, sites: tuple[str, ...] | None = None,
                     dicom: bool = False) -> dict[str, list[str]]:
    """Write all four sites (or the named ones: the same files as in the whole federation); returns
    case ids per site."""
    if size not in ("test", "full"):
        raise PmmError(f"--size {size!r}: use 'test' or 'full'")
    if cases_per_site < 1:
        raise PmmError("--cases-per-site must be at least 1")
    out = Path(out)
    test_size = size == "test"
    written: dict[str, list[str]] = {}
    chosen = [site for site in SITES if sites is None or site.name in sites]
    bar = tqdm(total=cases_per_site * len(chosen), desc="phantom", unit="case", disable=not progress)
    for site in chosen:
        root = out / site.name
        rng = np.random.default_rng([seed, site.dataset_id])
        montage_case: PhantomCase | None = None  # the case with the most modalities
        written[site.name] = []
        for index in range(cases_per_site):
            case_id = case_id_for(site, index)
            modalities = random_subset(rng, site.modalities) if site.random_subset else site.modalities
            case = CaseSynthesizer(site, 2 if test_size else 1, test_size, rng).make(case_id, modalities)
            write_case(site, root, case, index, writes_dicom(site, dicom))
            written[site.name].append(case_id)
            if montage_case is None or len(case.images) > len(montage_case.images):
                montage_case = case
            bar.update(1)
        toml = out / "sites" / f"{site.name.lower()}.toml"
        toml.parent.mkdir(parents=True, exist_ok=True)
        toml.write_text(site_toml(site, test_size, writes_dicom(site, dicom)))
        if montage_case is not None:
            write_montage(montage_case, root / "montage.png", title=f"{site.name} {montage_case.case_id}")
    bar.close()
    return written
