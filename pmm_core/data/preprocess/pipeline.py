"""One case from raw NIfTI to normalised axial slices on one grid.

Each modality is interpolated once: registration only estimates a transform, and the final
resampling goes from the original file's voxels straight to the output grid through it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from pmm_core.config.site import PreprocessOptions
from pmm_core.data.case import CaseRecord
from pmm_core.data.preprocess.brain_mask import brain_mask
from pmm_core.data.preprocess.grid import grid_geometry, output_grid, reorient_axial, resample_onto, same_grid
from pmm_core.data.preprocess.normalize import normalize_in_mask
from pmm_core.data.preprocess.registration import identity_transform, register_rigid
from pmm_core.errors import CaseError
from pmm_core.modalities import reference_modality


@dataclass
class PreparedCase:
    """A preprocessed case: `image` is (slices, modalities present, H, W) in [0, 1]."""

    case_id: str
    modalities: tuple[str, ...]
    reference: str
    image: np.ndarray
    mask: np.ndarray
    label: np.ndarray | None
    geometry: dict[str, list[float]]
    percentiles: dict[str, tuple[float, float]]
    native: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    transforms: dict[str, list[float]] = field(default_factory=dict)


def _native_geometry(image: sitk.Image) -> dict[str, list[float]]:
    return {"size": list(image.GetSize()), "spacing": [round(s, 4) for s in image.GetSpacing()]}


def _label_transform(record: CaseRecord, transforms: dict[str, sitk.Transform]) -> sitk.Transform:
    """The label follows the modality it was drawn on (the one sharing its grid), else physical space."""
    for modality, image in record.images.items():
        if record.label is not None and same_grid(image, record.label, tolerance_mm=0.05):
            return transforms[modality]
    return identity_transform()


def preprocess_case(record: CaseRecord, options: PreprocessOptions) -> PreparedCase:
    """Register, skull-strip, resample, normalise and crop one case (options already resolved)."""
    if not record.images:
        raise CaseError(f"case {record.case_id}: no image")
    reference_name = reference_modality(record.modalities)
    reference = reorient_axial(record.images[reference_name])

    transforms: dict[str, sitk.Transform] = {}
    for modality in record.modalities:
        if modality == reference_name or not options.rigid_registration:
            transforms[modality] = identity_transform()
        else:
            try:
                transforms[modality] = register_rigid(
                    reference, record.images[modality], iterations=options.registration_iterations
                )
            except CaseError as exc:
                raise CaseError(f"case {record.case_id}: {modality} cannot be aligned with {reference_name}: {exc}") from None

    try:
        native_mask = brain_mask(reference, skull_strip=bool(options.skull_strip))
    except CaseError as exc:
        raise CaseError(f"case {record.case_id}: {exc}") from None
    grid = output_grid(reference, native_mask, options.crop_size, options.in_plane_spacing)
    mask = resample_onto(native_mask, grid, identity_transform(), nearest=True)

    volumes, percentiles = [], {}
    for modality in record.modalities:
        resampled = resample_onto(record.images[modality], grid, transforms[modality])
        normalised, percentiles[modality] = normalize_in_mask(resampled, mask, options.percentiles)
        volumes.append(normalised)

    label = None
    if record.label is not None:
        label = resample_onto(record.label, grid, _label_transform(record, transforms), nearest=True)

    return PreparedCase(
        case_id=record.case_id,
        modalities=record.modalities,
        reference=reference_name,
        image=np.stack(volumes, axis=1),
        mask=mask.astype(np.uint8),
        label=label,
        geometry=grid_geometry(grid),
        percentiles=percentiles,
        native={m: _native_geometry(img) for m, img in record.images.items()},
        transforms={m: list(t.GetParameters()) for m, t in transforms.items()},
    )
