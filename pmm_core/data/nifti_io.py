"""NIfTI reading and writing with nibabel, handed to SimpleITK for resampling and registration.

nibabel reads the header as written (sform/qform, shears, odd dtypes) and tolerates what ITK's
reader refuses; the conversion to SimpleITK is the one place where RAS (nibabel) meets LPS (ITK).
A folder given where a file is expected is a DICOM series (`dicom_series`), read into the same
float32 SimpleITK image after the same intensity checks.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from pmm_core.atomic import atomic_destination
from pmm_core.data.dicom_series import is_series_folder, read_series_image, scan_series
from pmm_core.errors import CaseError

LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0])


def read_volume(path: Path, label: bool = False) -> sitk.Image:
    """Decode a 3D NIfTI file (or a DICOM series folder) into a float32 SimpleITK image with its real geometry.

    A corrupt or truncated file, an image that is not 3D, complex, all NaN or (unless it is a
    `label`, which may be empty) constant, is a CaseError naming the file.
    """
    path = Path(path)
    if is_series_folder(path):
        return read_dicom_volume(path, label)
    try:
        image = nib.load(str(path))
        data = np.asanyarray(image.dataobj)
    except FileNotFoundError:
        raise CaseError(f"{path}: file not found") from None
    except (nib.filebasedimages.ImageFileError, OSError, EOFError, zlib.error, gzip.BadGzipFile, ValueError) as exc:
        raise CaseError(f"{path}: corrupt or unreadable NIfTI ({type(exc).__name__}: {exc})") from None
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise CaseError(f"{path}: image is {data.ndim}D with shape {tuple(data.shape)}; pmm needs one 3D volume")
    if min(data.shape) < 1:
        raise CaseError(f"{path}: image has an empty axis {tuple(data.shape)}")
    data = checked_intensities(path, data, allow_constant=label)
    affine = np.asarray(image.affine, dtype=np.float64)
    if not np.all(np.isfinite(affine)):
        raise CaseError(f"{path}: the header's affine holds NaN or infinite values; fix the sform/qform")
    try:
        return array_to_sitk(data, affine)
    except CaseError as exc:
        raise CaseError(f"{path}: {exc}") from None


def read_dicom_volume(folder: Path, label: bool = False) -> sitk.Image:
    """A DICOM series folder as a float32 SimpleITK image, checked like a NIfTI file."""
    series_image = read_series_image(scan_series(folder))
    data = checked_intensities(folder, sitk.GetArrayFromImage(series_image), allow_constant=label)
    image = sitk.GetImageFromArray(data)
    image.CopyInformation(series_image)
    return image


def checked_intensities(path: Path, data: np.ndarray, allow_constant: bool = False) -> np.ndarray:
    """float32 voxels, or a CaseError naming the file when they cannot be an MR magnitude image.

    Checked here, before registration, because a NaN or constant volume otherwise surfaces as an
    ITK error deep inside the optimiser that names no file. Isolated NaN/inf voxels (some tools
    write them outside the field of view) become 0; an image with no finite voxel is refused.
    """
    if np.iscomplexobj(data):
        raise CaseError(f"{path}: complex-valued image (dtype {data.dtype}); export the magnitude image instead")
    if data.dtype.fields is not None or data.dtype.kind not in "biuf":
        raise CaseError(f"{path}: voxel type {data.dtype} is not a scalar intensity (RGB or structured); "
                        "export a grey-scale image")
    data = data.astype(np.float32, copy=False)
    finite = np.isfinite(data)
    if not finite.any():
        raise CaseError(f"{path}: every voxel is NaN or infinite; the file holds no image")
    if not finite.all():
        data = np.where(finite, data, np.float32(0.0))
    low, high = float(data.min()), float(data.max())
    if low == high and not allow_constant:
        raise CaseError(f"{path}: the image is constant (every voxel is {low:g}); is the series empty?")
    return data


def array_to_sitk(data: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """A SimpleITK image from a nibabel-ordered array (i, j, k) and its RAS affine.

    Shear in the affine is dropped by taking the nearest orthonormal direction (polar
    decomposition); ITK has no shear.
    """
    affine = np.asarray(affine, dtype=np.float64)
    linear = affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    if np.any(spacing <= 0):
        raise CaseError("affine has a zero-length axis")
    direction_ras = linear / spacing
    u, _, vt = np.linalg.svd(direction_ras)
    direction_ras = u @ vt
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(data, (2, 1, 0))))
    image.SetSpacing(tuple(float(s) for s in spacing))
    image.SetDirection(tuple((LPS_FROM_RAS @ direction_ras).flatten()))
    image.SetOrigin(tuple(LPS_FROM_RAS @ affine[:3, 3]))
    return image


def sitk_to_affine(image: sitk.Image) -> np.ndarray:
    """The RAS affine (nibabel convention) of a SimpleITK image."""
    direction = np.array(image.GetDirection()).reshape(3, 3)
    affine = np.eye(4)
    affine[:3, :3] = LPS_FROM_RAS @ direction @ np.diag(image.GetSpacing())
    affine[:3, 3] = LPS_FROM_RAS @ np.array(image.GetOrigin())
    return affine


def sitk_to_nifti(image: sitk.Image) -> nib.Nifti1Image:
    """A nibabel image (i, j, k order, RAS affine) holding a SimpleITK image's voxels."""
    data = np.transpose(sitk.GetArrayFromImage(image), (2, 1, 0))
    nifti = nib.Nifti1Image(data, sitk_to_affine(image))
    nifti.set_qform(nifti.affine, code=1)
    nifti.set_sform(nifti.affine, code=1)
    return nifti



def write_nifti_atomic(image: nib.Nifti1Image, path: Path) -> None:
    """Write to a temporary file beside `path`, then rename: no half-written output."""
    suffix = ".nii.gz" if Path(path).name.endswith(".gz") else ".nii"
    with atomic_destination(path, suffix) as temporary:
        nib.save(image, str(temporary))
