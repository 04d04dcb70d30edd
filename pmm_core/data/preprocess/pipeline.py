"""One case from raw NIfTI to anchor-relative axial slices on one grid.

Each modality is interpolated once: registration only estimates a transform, and the final
resampling goes from the original file's voxels straight to the output grid through it.
"""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import SimpleITK as sitk

from pmm_core.config.site import PreprocessOptions
from pmm_core.data.case import CaseImages
from pmm_core.data.preprocess.brain_mask import brain_mask
from pmm_core.data.preprocess.grid import grid_geometry, output_grid, reorient_axial, resample_onto, same_grid
from pmm_core.data.intensity import VolumeIntensity
from pmm_core.data.preprocess.intensity_stats import anchor_relative, measure_volume
from pmm_core.data.preprocess.registration import identity_transform, register_rigid
from pmm_core.errors import CaseError
from pmm_core.modalities import reference_modality

# a map the scanner computes from another series' own voxels: ADC from the DWI's b=0 and b=1000 images
DERIVED_FROM = {"ADC": "DWI"}
MIN_BRAIN_COVERAGE = 0.5  # share of the reference brain an aligned modality must cover to be usable


@dataclass
class PreparedCase:
    """A preprocessed case: `image` is (slices, modalities present, H, W), each modality divided
    by its healthy-tissue anchor (`intensity`); a scheme maps it to [0, 1] (`pmm_core.data.intensity`)."""

    case_id: str
    modalities: tuple[str, ...]
    reference: str
    image: np.ndarray
    mask: np.ndarray
    label: np.ndarray | None
    geometry: dict[str, list[float]]
    intensity: dict[str, VolumeIntensity]
    native: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    transforms: dict[str, list[float]] = field(default_factory=dict)         # Euler angles (rad), translation (mm)
    transform_centers: dict[str, list[float]] = field(default_factory=dict)  # rotation centre (LPS mm)

    def transform(self, modality: str) -> sitk.Transform:
        """The rigid transform (reference point → modality point) estimated for `modality`."""
        transform = sitk.Euler3DTransform()
        transform.SetCenter(self.transform_centers[modality])
        transform.SetParameters(self.transforms[modality])
        return transform


class StageTimes(defaultdict):
    """Seconds spent per stage (register, skull_strip, resample, intensity), summed over modalities.

    Filled by `preprocess_case` when given one; `bench/prepare_speed.py` reads it.
    """

    def __init__(self) -> None:
        super().__init__(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self[name] += time.perf_counter() - start


def derived_source(record: CaseImages, modality: str) -> str | None:
    """The series `modality` was computed from, when the case has it on the same grid; else None.

    Such a map is voxel-aligned with its source by construction, so it takes the source's
    transform, as diffusion pipelines do, instead of being registered on its own. Registered
    apart, each carries its own error, and the pair a model learns from (ADC dark, so DWI bright)
    ends up shifted against each other: 1.03 mm (TTG) and 0.65 mm (ISLES) on the phantom's
    native-size cases (`python -m bench.prepare_speed`). The price: ADC takes DWI's error, which
    on the phantom is the larger one (0.84 against 0.58 mm, 0.62 against 0.37). One registration
    fewer per case is the smaller gain (0.7-0.8 s).
    """
    source = DERIVED_FROM.get(modality)
    if source is None or source not in record.images:
        return None
    return source if same_grid(record.images[source], record.images[modality], tolerance_mm=0.05) else None


def _native_geometry(image: sitk.Image) -> dict[str, list[float]]:
    return {"size": list(image.GetSize()), "spacing": [round(s, 4) for s in image.GetSpacing()]}


def _label_transform(record: CaseImages, transforms: dict[str, sitk.Transform]) -> sitk.Transform:
    """The label follows the modality it was drawn on (the one sharing its grid), else physical space."""
    for modality, image in record.images.items():
        if record.label is not None and same_grid(image, record.label, tolerance_mm=0.05):
            return transforms[modality]
    return identity_transform()


def check_coverage(record: CaseImages, modality: str, reference: str, resampled: np.ndarray, mask: np.ndarray) -> None:
    """A modality that, once aligned, leaves most of the reference brain empty cannot be used.

    That happens when a series is another patient's or session's, covers another part of the
    head, or registration failed; training on it would teach the model garbage.
    """
    brain = mask > 0
    covered = float((resampled[brain] > 0).mean()) if brain.any() else 0.0
    if covered < MIN_BRAIN_COVERAGE:
        raise CaseError(f"{record.describe(modality)}: after alignment with {reference} it covers only {covered:.0%} "
                        f"of the brain (needs {MIN_BRAIN_COVERAGE:.0%}); check that it is the same patient and session")


def preprocess_case(record: CaseImages, options: PreprocessOptions, times: StageTimes | None = None) -> PreparedCase:
    """Register, skull-strip, resample, measure intensities and crop one case (options already resolved)."""
    times = StageTimes() if times is None else times
    if not record.images:
        raise CaseError(f"case {record.case_id}: no image")
    reference_name = reference_modality(record.modalities)
    reference = reorient_axial(record.images[reference_name])

    transforms: dict[str, sitk.Transform] = {}
    for modality in sorted(record.modalities, key=lambda m: m in DERIVED_FROM):  # a source before its derived map
        source = derived_source(record, modality)
        if modality == reference_name or not options.rigid_registration:
            transforms[modality] = identity_transform()
        elif source is not None:
            transforms[modality] = transforms[source]
        else:
            try:
                with times.stage("register"):
                    transforms[modality] = register_rigid(reference, record.images[modality], options.registration)
            except CaseError as exc:
                raise CaseError(f"{record.describe(modality)}: cannot be aligned with {reference_name}: {exc}") from None

    try:
        with times.stage("skull_strip" if options.skull_strip else "head_mask"):
            native_mask = brain_mask(reference, skull_strip=bool(options.skull_strip))
    except CaseError as exc:
        raise CaseError(f"{record.describe(reference_name)}: {exc}") from None
    with times.stage("resample"):
        grid = output_grid(reference, native_mask, options.crop_size, options.in_plane_spacing)
        mask = resample_onto(native_mask, grid, identity_transform(), nearest=True)

    volumes, intensity = [], {}
    for modality in record.modalities:
        with times.stage("resample"):
            resampled = resample_onto(record.images[modality], grid, transforms[modality])
        check_coverage(record, modality, reference_name, resampled, mask)
        with times.stage("intensity"):
            intensity[modality] = measure_volume(resampled, mask, options.percentiles, record.describe(modality))
            volumes.append(anchor_relative(resampled, mask, intensity[modality]))

    label = None
    if record.label is not None:
        with times.stage("resample"):
            label = resample_onto(record.label, grid, _label_transform(record, transforms), nearest=True)

    return PreparedCase(
        case_id=record.case_id,
        modalities=record.modalities,
        reference=reference_name,
        image=np.stack(volumes, axis=1),
        mask=mask.astype(np.uint8),
        label=label,
        geometry=grid_geometry(grid),
        intensity=intensity,
        native={m: _native_geometry(img) for m, img in record.images.items()},
        transforms={m: list(t.GetParameters()) for m, t in transforms.items()},
        transform_centers={m: list(t.GetFixedParameters()[:3]) for m, t in transforms.items()},
    )
