"""`pmm synthesize`: a patient's missing sequence as a NIfTI file in that patient's own space.

Raw inputs go through the site's preprocessing (registration to the reference input where the
site needs it, brain mask, normalisation, crop), the model synthesises the target slice by slice
in batches, and the result is resampled from the crop back onto the reference input's full grid
and affine, brain-masked, float32. Intensities are by default mapped back to the site's scanner
scale with the inverse of the intensity standardization the model was trained in (its checkpoint
holds it; `scanner`), or kept on the model's [0, 1] scale (`unit`). Every output is labelled
synthetic twice: in the NIfTI header description and in a JSON sidecar beside it (`labelling`).

One patient (`synthesize`) or a whole cohort in one process (`cohort.synthesize_cohort`): the
model and the brain-extraction network are loaded once either way.
"""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from centralized.labelling import synthetic_description, write_sidecar
from centralized.model_loading import TrainedModel
from pmm_core.config.site import SiteConfig
from pmm_core.data.case import CaseRecord
from pmm_core.data.intensity import OutputRange, standardize_channels
from pmm_core.data.nifti_io import read_volume, write_nifti_atomic
from pmm_core.data.preprocess.pipeline import preprocess_case
from pmm_core.data.records import SiteRecord
from pmm_core.errors import CaseError, PmmError
from pmm_core.evaluation.evaluate import synthesize_slices
from pmm_core.modalities import MODALITIES, NUM_MODALITIES, canonical_modality
from pmm_core.training.conditions import task_condition


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


def trained_site(trained: TrainedModel, site: SiteConfig) -> SiteRecord:
    """What the model learned of `site` (its dataset embedding, its intensity scale), or a one-line
    error naming the sites it knows."""
    known = trained.site(site.name)
    if known is None:
        names = ", ".join(s.name for s in trained.sites)
        raise PmmError(f"{trained.path} was not trained on site {site.name} (it knows {names}); use --site one of them")
    return known


def synthesize_record(trained: TrainedModel, site: SiteConfig, record: CaseRecord, target: str, out: Path,
                      batch_size: int = 16, intensity_range: OutputRange = "scanner") -> Path:
    """Synthesise `target` for one loaded case from all its images; write NIfTI + sidecar atomically.

    Raises CaseError for a case that cannot be preprocessed (alignment, empty brain), naming the file.
    """
    if target in record.images:
        raise PmmError(f"--target {target} is also an --input; choose a modality you do not have")
    known = trained_site(trained, site)
    prepared = preprocess_case(record, site.preprocessing)

    volume = np.zeros((prepared.image.shape[0], NUM_MODALITIES) + prepared.image.shape[2:], dtype=np.float32)
    maps = known.intensity.channel_maps(list(prepared.modalities), prepared.intensity)
    volume[:, [MODALITIES.index(m) for m in prepared.modalities]] = standardize_channels(prepared.image, maps,
                                                                                         prepared.mask)
    device = next(trained.model.parameters()).device
    sc = task_condition(list(prepared.modalities))
    synthesis = synthesize_slices(trained.model, volume, sc, known.dataset_id, device, batch_size, target)
    if intensity_range == "scanner":
        synthesis = known.intensity.to_scanner(target, synthesis)
    synthesis = synthesis * (prepared.mask > 0)

    reference = record.images[prepared.reference]
    on_reference = sitk.Resample(_grid_image(prepared.geometry, synthesis), reference, sitk.Transform(),
                                 sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    data = np.transpose(sitk.GetArrayFromImage(on_reference), (2, 1, 0)).astype(np.float32)
    original = nib.load(str(record.files[prepared.reference]))
    header = original.header.copy()
    header.set_data_dtype(np.float32)
    header.set_slope_inter(1.0, 0.0)
    result = nib.Nifti1Image(data, original.affine, header)
    result.header["descrip"] = synthetic_description(target, prepared.modalities, site.name, trained.path).encode()
    write_nifti_atomic(result, out)
    write_sidecar(out, trained, target=target, sources=prepared.modalities, site=site.name,
                  reference=record.files[prepared.reference],
                  intensity=output_scale_description(known, target, intensity_range))
    return out


def output_scale_description(known: SiteRecord, target: str, intensity_range: OutputRange) -> str:
    """What the sidecar says of the intensities: the scale and the mapping that produced it."""
    if intensity_range == "unit":
        return f"model [0, 1] ({known.intensity.scheme} standardization of site {known.name}), brain-masked"
    typical = known.intensity.scale(target).typical
    return (f"scanner units: the inverse of site {known.name}'s {known.intensity.scheme} standardization "
            f"with its typical {target} volume (healthy-tissue level {typical.anchor:g}), brain-masked")


def synthesize(trained: TrainedModel, site: SiteConfig, inputs: dict[str, Path], target: str, out: Path,
               batch_size: int = 16, intensity_range: OutputRange = "scanner") -> Path:
    """The single-patient form: `inputs` maps modality → NIfTI file."""
    target = canonical_modality(target)
    if target in inputs:
        raise PmmError(f"--target {target} is also an --input; choose a modality you do not have")
    trained_site(trained, site)  # fail on an unknown site before reading anything
    try:
        record = CaseRecord(case_id=out.name, images={m: read_volume(p) for m, p in inputs.items()},
                            files=dict(inputs))
        return synthesize_record(trained, site, record, target, out, batch_size, intensity_range)
    except CaseError as exc:
        raise PmmError(str(exc)) from None
