"""A DICOM series folder as one 3D image: the headers checked with pydicom, the pixels read by
SimpleITK's series reader.

Scanners export one folder per series, so that is the unit pmm reads wherever it would read a
NIfTI file (`pmm synthesize --input T1=DIR`, a generic site's `[files]` glob matching a folder).
Before any pixel is decoded every file's header is read (pydicom, pixels skipped), so what would
otherwise surface as a wrong volume or an ITK error deep in registration is one line naming the
folder or file:

- no DICOM image, or files of several series (SeriesInstanceUID) in one folder;
- slices with different orientations or matrices, two slices at one position, or gaps between
  slice positions that differ by more than 10 % (a missing slice, a mixed-up export), which a
  series reader would silently stretch over.

A file that is not DICOM (a text manifest, a thumbnail, a DICOMDIR) or a DICOM object that is
not an image slice (a report, a presentation state) is skipped with a note on stderr, as
dcm2niix and SimpleITK's series reader skip it: scanners and PACS export such files beside the
slices. The slices are sorted along the slice normal (not by file name or InstanceNumber, which
exporters do not keep consistent), and SimpleITK reads them in that order, applying each slice's
rescale slope and intercept. The sorted headers are kept (`DicomSeries.headers`), because a
synthetic series written beside the real one takes its patient, study and geometry from them.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError

from pmm_core.errors import CaseError

GAP_TOLERANCE = 0.10        # relative spread of slice gaps accepted as one spacing
ORIENTATION_TOLERANCE = 1e-4


@dataclass(frozen=True)
class DicomSeries:
    """One series folder: its files sorted along the slice normal and their headers (no pixels)."""

    folder: Path
    files: tuple[Path, ...]
    headers: tuple[pydicom.Dataset, ...]
    slice_spacing: float

    @property
    def series_uid(self) -> str:
        return str(self.headers[0].SeriesInstanceUID)


def is_series_folder(path: Path) -> bool:
    """A folder (not hidden) given where a NIfTI file could be: read as a DICOM series."""
    return path.is_dir() and not path.name.startswith(".")


def _candidate_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.name.upper() != "DICOMDIR")


def _header(path: Path) -> pydicom.Dataset | None:
    """The slice's header, or None (with a note) for a file beside the slices that is not one."""
    try:
        header = pydicom.dcmread(str(path), stop_before_pixels=True)
    except InvalidDicomError:
        print(f"note: {path}: not a DICOM file; skipped", file=sys.stderr)
        return None
    except (OSError, EOFError, ValueError, TypeError) as exc:
        raise CaseError(f"{path}: corrupt or unreadable DICOM ({type(exc).__name__}: {exc})") from None
    missing = [k for k in ("Rows", "Columns", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
                           "SeriesInstanceUID") if k not in header]
    if missing:
        kind = getattr(getattr(header, "SOPClassUID", None), "name", "unknown SOP class")
        print(f"note: {path}: a DICOM {kind} object, not an image slice (no {', '.join(missing)}); skipped",
              file=sys.stderr)
        return None
    return header


def _normal(header: pydicom.Dataset) -> np.ndarray:
    row, column = np.asarray(header.ImageOrientationPatient[:3], float), np.asarray(header.ImageOrientationPatient[3:], float)
    return np.cross(row, column)


def scan_series(folder: Path) -> DicomSeries:
    """The folder's one series, sorted and checked (see the module docstring for what is refused)."""
    folder = Path(folder)
    read = [(f, _header(f)) for f in _candidate_files(folder)]
    files, headers = [f for f, h in read if h is not None], [h for _, h in read if h is not None]
    if not files:
        raise CaseError(f"{folder}: holds no DICOM image slice; give a folder with one series' slices")
    series = {}
    for header in headers:
        series.setdefault(str(header.SeriesInstanceUID), header)
    if len(series) > 1:
        names = "; ".join(f"{getattr(h, 'SeriesNumber', '?')} {getattr(h, 'SeriesDescription', '')}".strip()
                          for h in series.values())
        raise CaseError(f"{folder}: holds {len(series)} DICOM series ({names}); put each series in its own folder")

    first = headers[0]
    for path, header in zip(files, headers):
        if (not np.allclose(header.ImageOrientationPatient, first.ImageOrientationPatient, atol=ORIENTATION_TOLERANCE)
                or (header.Rows, header.Columns) != (first.Rows, first.Columns)):
            raise CaseError(f"{path}: orientation or matrix differs from {files[0].name} in the same series; "
                            "is this a localizer or a reformat? export it as its own series")
    positions = np.array([np.dot(_normal(first), np.asarray(h.ImagePositionPatient, float)) for h in headers])
    order = np.argsort(positions, kind="stable")
    files, headers, positions = [files[i] for i in order], [headers[i] for i in order], positions[order]
    spacing = _slice_spacing(folder, files, positions, first)
    return DicomSeries(folder, tuple(files), tuple(headers), spacing)


def _slice_spacing(folder: Path, files: list[Path], positions: np.ndarray, first: pydicom.Dataset) -> float:
    if len(files) == 1:
        return float(getattr(first, "SpacingBetweenSlices", getattr(first, "SliceThickness", 1.0)) or 1.0)
    gaps = np.diff(positions)
    if gaps.min() < 1e-3:
        index = int(np.argmin(gaps))
        raise CaseError(f"{folder}: {files[index].name} and {files[index + 1].name} lie at the same slice position "
                        "(several echoes or a repeated slice?); export one volume per series")
    median = float(np.median(gaps))
    if np.abs(gaps - median).max() > GAP_TOLERANCE * median:
        index = int(np.argmax(np.abs(gaps - median)))
        raise CaseError(f"{folder}: inconsistent slice spacing: {gaps.min():.2f} to {gaps.max():.2f} mm (median "
                        f"{median:.2f} mm; the gap after {files[index].name} is {gaps[index]:.2f} mm); "
                        "a slice is missing or the folder mixes series")
    return median


def read_series_image(series: DicomSeries) -> sitk.Image:
    """The series' voxels (rescale applied) and geometry, slices in `series.files` order."""
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(f) for f in series.files])
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise CaseError(f"{series.folder}: SimpleITK cannot decode the series ({str(exc).strip().splitlines()[-1]})") from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise CaseError(f"{series.folder}: colour DICOM series; export a grey-scale MR series")
    return image
