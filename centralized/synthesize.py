"""`pmm synthesize`: a patient's missing sequence as a NIfTI file in that patient's own space.

Raw NIfTI inputs go through the site's preprocessing (registration to the reference input where
the site needs it, brain mask, normalisation, crop), the model synthesises the target slice by
slice in batches, and the result is resampled from the crop back onto the reference input's full
grid and affine, brain-masked, float32 in the model's [0, 1] intensity range.
"""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk
import torch

from centralized.model_loading import TrainedModel
from pmm_core.config.site import SiteConfig
from pmm_core.data.case import CaseRecord
from pmm_core.data.nifti_io import read_volume, write_nifti_atomic
from pmm_core.data.preprocess.pipeline import PreparedCase, preprocess_case
from pmm_core.errors import CaseError, PmmError
from pmm_core.evaluation.evaluate import synthesize_slices
from pmm_core.modalities import MODALITIES, NUM_MODALITIES, canonical_modality
from pmm_core.training.conditions import task_condition

MIN_OVERLAP = 0.5  # fraction of the reference brain an aligned input must cover


def parse_inputs(items: list[str]) -> dict[str, Path]:
    """['T1=a.nii.gz', …] → {'T1': Path}; one-line errors for malformed or missing inputs."""
    inputs: dict[str, Path] = {}
    for item in items:
        if "=" not in item:
            raise PmmError(f"--input {item!r}: write MODALITY=FILE, e.g. T1=patient_t1.nii.gz")
        name, file = item.split("=", 1)
        modality = canonical_modality(name)
        if modality in inputs:
            raise PmmError(f"--input {modality} is given twice")
        path = Path(file)
        if not path.is_file():
            raise PmmError(f"{path}: input file not found")
        inputs[modality] = path
    if not inputs:
        raise PmmError("give at least one --input MODALITY=FILE")
    return inputs


def _grid_image(geometry: dict, array_zyx: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(array_zyx.astype(np.float32))
    image.SetSpacing(geometry["spacing"])
    image.SetOrigin(geometry["origin"])
    image.SetDirection(geometry["direction"])
    return image


def _check_alignment(prepared: PreparedCase) -> None:
    """Every input must cover the reference brain after alignment, else it cannot be used."""
    brain = prepared.mask > 0
    for index, modality in enumerate(prepared.modalities):
        covered = float((prepared.image[:, index][brain] > 0).mean()) if brain.any() else 0.0
        if covered < MIN_OVERLAP:
            raise PmmError(f"input {modality} cannot be aligned with {prepared.reference}: after registration it covers "
                           f"only {covered:.0%} of the brain; check that both files are the same patient and session")


def synthesize(trained: TrainedModel, site: SiteConfig, inputs: dict[str, Path], target: str, out: Path,
               batch_size: int = 16) -> Path:
    target = canonical_modality(target)
    if target in inputs:
        raise PmmError(f"--target {target} is also an --input; choose a modality you do not have")
    known = trained.site(site.name)
    if known is None:
        names = ", ".join(s["name"] for s in trained.sites)
        raise PmmError(f"{trained.path} was not trained on site {site.name} (it knows {names}); use --site one of them")
    try:
        record = CaseRecord(case_id=out.name, images={m: read_volume(p) for m, p in inputs.items()})
        prepared = preprocess_case(record, site.preprocessing)
    except CaseError as exc:
        raise PmmError(str(exc)) from None
    _check_alignment(prepared)

    volume = np.zeros((prepared.image.shape[0], NUM_MODALITIES) + prepared.image.shape[2:], dtype=np.float32)
    volume[:, [MODALITIES.index(m) for m in prepared.modalities]] = prepared.image
    device = next(trained.model.parameters()).device
    sc = task_condition(list(prepared.modalities))
    synthesis = synthesize_slices(trained.model, volume, sc, known["dataset_id"], device, batch_size)[:, MODALITIES.index(target)]
    synthesis = synthesis * (prepared.mask > 0)

    reference = record.images[prepared.reference]
    on_reference = sitk.Resample(_grid_image(prepared.geometry, synthesis), reference, sitk.Transform(),
                                 sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    data = np.transpose(sitk.GetArrayFromImage(on_reference), (2, 1, 0)).astype(np.float32)
    original = nib.load(str(inputs[prepared.reference]))
    header = original.header.copy()
    header.set_data_dtype(np.float32)
    header.set_slope_inter(1.0, 0.0)
    result = nib.Nifti1Image(data, original.affine, header)
    description = f"pmm {target} from {'+'.join(prepared.modalities)} site {site.name} {trained.path.name}"
    result.header["descrip"] = description[:79].encode()
    write_nifti_atomic(result, out)
    return out
