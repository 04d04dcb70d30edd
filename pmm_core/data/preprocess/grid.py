"""The output grid of a case: the reference modality's slices, in-plane resampled and cropped.

The reference is first reoriented to LPS (a permutation/flip, no interpolation) so the third
axis is always axial whatever the acquisition stored. The output keeps the reference's slices
exactly (no through-plane interpolation of thick slices), resamples in-plane to a fixed pixel
size so sites with 0.5 mm and 1 mm pixels see anatomy at one scale, and centres the crop on the
brain mask's bounding box, which is more robust than the image centre for off-centre FOVs.
"""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk


def reorient_axial(image: sitk.Image) -> sitk.Image:
    """Same voxels, axes permuted/flipped to LPS so array index 0 is the axial slice."""
    return sitk.DICOMOrient(image, "LPS")


def output_grid(reference: sitk.Image, mask: sitk.Image, crop_size: int, in_plane_spacing: float | None) -> sitk.Image:
    """An empty image describing the output grid (crop_size x crop_size x reference slices)."""
    spacing_ref = np.array(reference.GetSpacing())
    pixel = float(in_plane_spacing) if in_plane_spacing else float(min(spacing_ref[0], spacing_ref[1]))
    spacing = np.array([pixel, pixel, spacing_ref[2]])
    size = np.array([crop_size, crop_size, reference.GetSize()[2]])

    mask_zyx = sitk.GetArrayViewFromImage(mask)
    nonzero = np.nonzero(mask_zyx)
    if nonzero[0].size:
        center_x = (nonzero[2].min() + nonzero[2].max()) / 2.0
        center_y = (nonzero[1].min() + nonzero[1].max()) / 2.0
    else:
        center_x, center_y = (reference.GetSize()[0] - 1) / 2.0, (reference.GetSize()[1] - 1) / 2.0
    center_z = (reference.GetSize()[2] - 1) / 2.0
    center = np.array(reference.TransformContinuousIndexToPhysicalPoint((center_x, center_y, center_z)))
    direction = np.array(reference.GetDirection()).reshape(3, 3)
    origin = center - direction @ ((size - 1) / 2.0 * spacing)

    grid = sitk.Image([int(s) for s in size], sitk.sitkUInt8)
    grid.SetSpacing(tuple(float(s) for s in spacing))
    grid.SetDirection(reference.GetDirection())
    grid.SetOrigin(tuple(float(o) for o in origin))
    return grid


def resample_onto(image: sitk.Image, grid: sitk.Image, transform: sitk.Transform, nearest: bool = False) -> np.ndarray:
    """`image` sampled on `grid` through `transform` (grid point → image point), as (z, y, x) float32."""
    interpolator = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    pixel_type = sitk.sitkUInt8 if nearest else sitk.sitkFloat32
    resampled = sitk.Resample(image, grid, transform, interpolator, 0.0, pixel_type)
    return sitk.GetArrayFromImage(resampled)


def grid_geometry(grid: sitk.Image) -> dict[str, list[float]]:
    """JSON-ready geometry, so a synthesis can be put back into the patient's space later."""
    return {
        "size": list(grid.GetSize()),
        "spacing": list(grid.GetSpacing()),
        "origin": list(grid.GetOrigin()),
        "direction": list(grid.GetDirection()),
    }


def same_grid(a: sitk.Image, b: sitk.Image, tolerance_mm: float = 1e-3) -> bool:
    """True when two images share size, spacing, origin and direction."""
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=tolerance_mm)
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=tolerance_mm)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=1e-4)
    )
