"""A synthesized volume written as a DICOM series beside the real ones, labelled as synthetic.

pydicom builds classic single-frame MR Image Storage objects, one per slice of the reference
series, because that is what every PACS, viewer and converter (dcm2niix, SimpleITK) reads.
highdicom was considered: its MR-specific builder is the legacy-converted enhanced multi-frame
object, which needs acquisition attributes a synthesis does not have and which many viewers and
converters still handle poorly, so it would buy nothing here.

What each slice carries:
- patient, study and frame of reference from the reference slice at that position, so the
  synthetic series files into the same study and overlays the real series exactly;
- the reference slice's geometry (ImagePositionPatient, ImageOrientationPatient, PixelSpacing,
  SliceThickness) — the volume is on the reference series' grid by construction;
- a new SeriesInstanceUID for the series and a new SOPInstanceUID per slice, ImageType
  DERIVED\\SECONDARY, a SeriesDescription starting with "SYNTHETIC", a DerivationDescription
  and ImageComments naming the sources, pmm as manufacturer and software, and the reference
  slice in SourceImageSequence;
- no acquisition parameters (echo, repetition, inversion time are left empty: nothing was
  acquired); ScanningSequence "RM" (research mode) and SequenceVariant "NONE".

Pixels are unsigned 16-bit with a RescaleSlope chosen so the stored range covers the volume, so
`stored × slope` gives back the float intensities to within 1/65535 of the maximum.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import set_pixel_data
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from pmm_core.atomic import atomic_folder
from pmm_core.data.dicom_series import DicomSeries
from pmm_core.errors import CaseError

# copied from the reference slice: who, which study, which frame of reference, where
COPIED = ("SpecificCharacterSet", "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge",
          "PatientWeight", "PatientSize", "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID",
          "AccessionNumber", "ReferringPhysicianName", "StudyDescription", "FrameOfReferenceUID",
          "PositionReferenceIndicator", "BodyPartExamined", "PatientPosition", "ImagePositionPatient",
          "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "SpacingBetweenSlices", "SliceLocation")
STORED_MAX = 65535
SERIES_NUMBER_OFFSET = 1000  # the synthetic series sorts after the real ones in a viewer


@dataclass(frozen=True)
class SyntheticSeriesLabel:
    """How a synthetic series names itself: the viewer's series list line and the long story."""

    description: str          # SeriesDescription, starts with SYNTHETIC (64 characters at most)
    derivation: str           # DerivationDescription / ImageComments: sources, model, checkpoint
    software: str             # pmm's version
    model: str = "PMM-Synth"  # ManufacturerModelName: the method that synthesized it


def rescaled_uint16(volume_zyx: np.ndarray) -> tuple[np.ndarray, float]:
    """Stored uint16 values and the RescaleSlope that maps them back to the (non-negative) floats."""
    peak = float(max(volume_zyx.max(), 0.0))
    slope = peak / STORED_MAX if peak > 0 else 1.0
    stored = np.clip(np.rint(np.maximum(volume_zyx, 0.0) / slope), 0, STORED_MAX).astype(np.uint16)
    return stored, slope


def _window(volume_zyx: np.ndarray) -> tuple[float, float]:
    inside = volume_zyx[volume_zyx > 0]
    if inside.size == 0:
        return 0.5, 1.0
    low, high = np.percentile(inside, [1.0, 99.0])
    return float((low + high) / 2), float(max(high - low, 1e-3))


def _slice_dataset(reference: pydicom.Dataset, series_uid: str, series_number: int, label: SyntheticSeriesLabel,
                   now: datetime.datetime) -> Dataset:
    ds = Dataset()
    for keyword in COPIED:
        if keyword in reference:
            setattr(ds, keyword, reference.data_element(keyword).value)
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.Modality = "MR"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.SeriesDescription = label.description[:64]
    ds.DerivationDescription = label.derivation[:1024]
    ds.ImageComments = label.derivation[:10240]
    if not all(text.isascii() for text in (label.description, label.derivation, label.software)):
        # our text (a checkpoint's or site's name) needs more than the reference's character set
        # may hold; UTF-8 encodes it and the copied patient and study names alike
        ds.SpecificCharacterSet = "ISO_IR 192"
    ds.BurnedInAnnotation = "NO"
    ds.Manufacturer = "pmm"
    ds.ManufacturerModelName = label.model
    ds.SoftwareVersions = label.software
    ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.ScanningSequence, ds.SequenceVariant = "RM", "NONE"
    for empty in ("ScanOptions", "MRAcquisitionType", "EchoTime", "RepetitionTime", "EchoTrainLength"):
        setattr(ds, empty, None)
    source = Dataset()
    source.ReferencedSOPClassUID = reference.SOPClassUID
    source.ReferencedSOPInstanceUID = reference.SOPInstanceUID
    ds.SourceImageSequence = Sequence([source])
    return ds


def write_synthetic_series(volume_zyx: np.ndarray, reference: DicomSeries, out_dir: Path,
                           label: SyntheticSeriesLabel) -> Path:
    """Write `volume_zyx` (on the reference series' grid, slices in its sorted order) as a new series
    in `out_dir`, atomically (a temporary folder renamed at the end)."""
    if not label.description.startswith("SYNTHETIC"):
        raise ValueError("a synthetic series' description must start with SYNTHETIC")
    if volume_zyx.shape != (len(reference.files), reference.headers[0].Rows, reference.headers[0].Columns):
        raise CaseError(f"{reference.folder}: the synthesis has shape {volume_zyx.shape}, the series "
                        f"{len(reference.files)} slices of {reference.headers[0].Rows}x{reference.headers[0].Columns}")
    stored, slope = rescaled_uint16(np.asarray(volume_zyx, dtype=np.float64))
    center, width = _window(volume_zyx)
    series_uid = generate_uid()
    series_number = int(getattr(reference.headers[0], "SeriesNumber", 0) or 0) + SERIES_NUMBER_OFFSET
    now = datetime.datetime.now()
    with atomic_folder(out_dir) as staging:
        for index, (header, pixels) in enumerate(zip(reference.headers, stored)):
            ds = _slice_dataset(header, series_uid, series_number, label, now)
            ds.InstanceNumber = index + 1
            ds.WindowCenter, ds.WindowWidth = f"{center:.6g}", f"{width:.6g}"
            save_slice(ds, pixels, slope, staging / f"IM{index + 1:04d}.dcm")
    return out_dir


def save_slice(ds: Dataset, pixels: np.ndarray, slope: float, path: Path) -> None:
    """Attach uint16 pixels with their rescale and the file meta, and write a DICOM file (Part 10)."""
    set_pixel_data(ds, pixels, "MONOCHROME2", 16, generate_instance_uid=False)
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = f"{slope:.10g}", "0", "US"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
