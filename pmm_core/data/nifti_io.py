"""NIfTI reading and writing with nibabel, handed to SimpleITK for resampling and registration.

nibabel reads the header as written (sform/qform, shears, odd dtypes) and tolerates what ITK's
reader refuses; the conversion to SimpleITK is the one place where RAS (nibabel) meets LPS (ITK).
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from pmm_core.atomic import atomic_destination
from pmm_core.errors import CaseError

LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0])


def read_volume(path: Path) -> sitk.Image:
    """Decode a 3D NIfTI file into a float32 SimpleITK image with its real geometry.

    A corrupt or truncated file, or an image that is not 3D, is a CaseError naming the file.
    """
    path = Path(path)
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
    data = np.nan_to_num(data.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    return array_to_sitk(data, image.affine)


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
