"""A volume exported as an acquired MR DICOM series, the way a scanner writes one folder per series.

The phantom writes its in-house sites this way with `pmm phantom --dicom`, and the tests build
DICOM inputs from NIfTI files with it, so the DICOM path (series reading, geometry, the
synthetic series written back) runs on real files at real sizes. The slice geometry comes from
the image's own (LPS) geometry: slice k's ImagePositionPatient is voxel (0, 0, k), the row and
column directions are the first two axes, PixelSpacing is (row spacing, column spacing).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.uid import MRImageStorage, generate_uid

from pmm_core.data.dicom_write import rescaled_uint16, save_slice


@dataclass(frozen=True)
class Acquisition:
    """Who and which study a series belongs to (one study per case, one series per modality)."""

    patient_id: str
    study_uid: str
    series_number: int
    description: str
    frame_of_reference_uid: str


def write_acquired_series(image: sitk.Image, folder: Path, acquisition: Acquisition) -> Path:
    """One MR Image Storage file per slice of `image` in `folder` (ImageType ORIGINAL\\PRIMARY)."""
    folder.mkdir(parents=True, exist_ok=True)
    array = sitk.GetArrayFromImage(image).astype(np.float64)           # (z, y, x)
    stored, slope = rescaled_uint16(array)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    spacing = image.GetSpacing()
    series_uid = generate_uid()
    for index, pixels in enumerate(stored):
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, generate_uid()
        ds.PatientName, ds.PatientID = acquisition.patient_id, acquisition.patient_id
        ds.PatientBirthDate, ds.PatientSex = "", "O"
        ds.StudyInstanceUID, ds.StudyID, ds.StudyDate, ds.StudyTime = acquisition.study_uid, "1", "20260101", "120000"
        ds.AccessionNumber, ds.ReferringPhysicianName = "", ""
        ds.SeriesInstanceUID, ds.SeriesNumber = series_uid, acquisition.series_number
        ds.SeriesDescription = acquisition.description
        ds.Modality, ds.ImageType = "MR", ["ORIGINAL", "PRIMARY"]
        ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = acquisition.frame_of_reference_uid, ""
        ds.InstanceNumber = index + 1
        ds.ImagePositionPatient = [f"{v:.6f}" for v in image.TransformIndexToPhysicalPoint((0, 0, index))]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*direction[:, 0], *direction[:, 1])]
        ds.PixelSpacing = [f"{spacing[1]:.6f}", f"{spacing[0]:.6f}"]
        ds.SliceThickness = f"{spacing[2]:.6f}"
        ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = "SE", "NONE", "2D"
        save_slice(ds, pixels, slope, folder / f"IM{index + 1:04d}.dcm")
    return folder
