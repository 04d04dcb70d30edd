"""`pmm synthesize`: a patient's missing sequence as a NIfTI file in that patient's own space.

Raw inputs go through the site's preprocessing (registration to the reference input where the
site needs it, brain mask, normalisation, crop), the model synthesises the target slice by slice
in batches, and the result is resampled from the crop back onto the reference input's full grid
and affine, brain-masked, float32. Intensities are by default mapped back to the site's scanner
scale with the inverse of the intensity standardization the model was trained in (its checkpoint
holds it; `scanner`), or kept on the model's [0, 1] scale (`unit`). Every output is labelled
synthetic twice: in the NIfTI header description and in a JSON sidecar beside it (`labelling`).

An input may be a NIfTI file or a DICOM series folder. The output is a NIfTI file, or with
`out_format="dicom"` a DICOM series on the reference series' grid, in its study, labelled
synthetic in its ImageType and SeriesDescription (`pmm_core.data.dicom_write`).

The work is split so that a case is preprocessed once however many modalities it lacks
(`model_inputs`), each target is synthesized on the reference grid (`synthesize_target`) and
written in the chosen format (`write_synthesis`). One patient (`synthesize`), a whole cohort
(`cohort.synthesize_cohort`) or a whole site in its native layout (`complete.complete_site`) all
run through these, with the model and the brain-extraction network loaded once.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Collection, Mapping
from typing import Literal

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from pmm.inference.labelling import derivation_text, pmm_version, synthetic_description, write_sidecar
from pmm.inference.model_loading import TrainedModel
from pmm_core.config.site import SiteConfig
from pmm_core.data.case import CaseImages
from pmm_core.data.intensity import OutputRange, standardize_channels
from pmm_core.data.dicom_series import is_series_folder, scan_series
from pmm_core.data.dicom_write import SyntheticSeriesLabel, write_synthetic_series
from pmm_core.data.nifti_io import read_volume, sitk_to_nifti, write_nifti_atomic
from pmm_core.data.preprocess.pipeline import PreparedCase, StageTimes, preprocess_case
from pmm_core.data.records import SiteRecord
from pmm_core.errors import CaseError, PmmError
from pmm_core.evaluation.evaluate import synthesize_slices
from pmm_core.modalities import MODALITIES, NUM_MODALITIES, canonical_modality
from pmm_core.training.conditions import task_condition

OutputFormat = Literal["nifti", "dicom"]


def parse_inputs(items: list[str]) -> dict[str, Path]:
    """['T1=a.nii.gz', …] → {'T1': Path}; one-line errors for malformed or missing inputs."""
    inputs: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise PmmError(f"--input {item!r}: write MODALITY=FILE, e.g. T1=patient_t1.nii.gz")
        name, file = item.split("=", 1)
        if name in inputs:  # the same spelling twice; T1 and t1 are caught by parse_input_files
            raise PmmError(f"--input {canonical_modality(name)} is given twice")
        inputs[name] = file
    if not inputs:
        raise PmmError("give at least one --input MODALITY=FILE")
    return parse_input_files(inputs)


def parse_input_files(inputs: Mapping[str, str | Path]) -> dict[str, Path]:
    """{'t1': 'a.nii.gz', …} → {'T1': Path}: canonical modality names, every file there."""
    files: dict[str, Path] = {}
    for name, file in inputs.items():
        modality = canonical_modality(name)
        if modality in files:
            raise PmmError(f"--input {modality} is given twice")
        path = Path(file)
        if not path.exists():
            raise PmmError(f"{path}: input file (or DICOM series folder) not found")
        files[modality] = path
    if not files:
        raise PmmError("give at least one input: MODALITY=FILE")
    return files


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


@dataclass
class ModelInputs:
    """One case preprocessed once and standardized into the model's scale, ready for any target."""

    record: CaseImages
    prepared: PreparedCase
    volume: np.ndarray          # (slices, 6, H, W), absent modalities zero
    known: SiteRecord

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.prepared.modalities)

    @property
    def reference(self) -> sitk.Image:
        """The input whose grid and affine every output of this case is put on."""
        return self.record.images[self.prepared.reference]

    @property
    def reference_file(self) -> Path:
        return self.record.files[self.prepared.reference]


@dataclass
class Synthesis:
    """One synthesized modality on the case's reference grid, and what the labels say of it."""

    target: str
    inputs: ModelInputs
    sources: tuple[str, ...]    # the inputs the model used (a pix2pix model: its task's sources)
    image: sitk.Image           # float32, brain-masked, on `inputs.reference`'s grid
    intensity: str              # the sidecar's IntensityScale


def model_inputs(trained: TrainedModel, site: SiteConfig, record: CaseImages,
                 times: StageTimes | None = None) -> ModelInputs:
    """The site's preprocessing and the model's standardization of one loaded case; `times`, when
    given, gets the seconds of each preprocessing stage (the synthesis benchmark's breakdown).

    Raises CaseError for a case that cannot be preprocessed (alignment, empty brain), naming the file.
    """
    known = trained_site(trained, site)
    prepared = preprocess_case(record, site.preprocessing, times)
    volume = np.zeros((prepared.image.shape[0], NUM_MODALITIES) + prepared.image.shape[2:], dtype=np.float32)
    maps = known.intensity.channel_maps(list(prepared.modalities), prepared.intensity)
    volume[:, [MODALITIES.index(m) for m in prepared.modalities]] = standardize_channels(prepared.image, maps,
                                                                                         prepared.mask)
    return ModelInputs(record, prepared, volume, known)


def refuse_target_among_inputs(target: str, inputs: Collection[str]) -> None:
    """A synthesis of a modality the case already has is a mistake, not a request: one line."""
    if target in inputs:
        raise PmmError(f"--target {target} is also an --input; choose a modality you do not have")


def synthesize_target(trained: TrainedModel, inputs: ModelInputs, target: str, batch_size: int = 16,
                      intensity_range: OutputRange = "scanner") -> Synthesis:
    """`target` from every modality the case has, put back on the reference input's full grid."""
    refuse_target_among_inputs(target, inputs.sources)
    prepared, known = inputs.prepared, inputs.known
    scale = output_scale_description(known, target, intensity_range)  # refuses a scale the site cannot give first
    sources = trained.usable_sources(list(inputs.sources), target)
    device = next(trained.model.parameters()).device
    synthesis = synthesize_slices(trained.model, inputs.volume, task_condition(list(sources)),
                                  known.dataset_id, device, batch_size, target, trained.precision)
    if intensity_range == "scanner":
        synthesis = known.intensity.to_scanner(target, synthesis)
    synthesis = synthesis * (prepared.mask > 0)
    on_reference = sitk.Resample(_grid_image(prepared.geometry, synthesis), inputs.reference, sitk.Transform(),
                                 sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return Synthesis(target, inputs, sources, on_reference, scale)


def write_synthesis(synthesis: Synthesis, trained: TrainedModel, site: SiteConfig, out: Path,
                    out_format: OutputFormat = "nifti") -> Path:
    """Write a synthesis (NIfTI file, or a DICOM series folder) and its sidecar, each atomically."""
    inputs = synthesis.inputs
    description = synthetic_description(synthesis.target, synthesis.sources, site.name, trained.path)
    if out_format == "dicom":
        if not is_series_folder(inputs.reference_file):
            raise CaseError(f"{inputs.reference_file}: --out-format dicom takes patient, study and geometry from the "
                            f"reference input ({inputs.prepared.reference}), which is not a DICOM series folder")
        label = SyntheticSeriesLabel(description[:64], derivation_text(synthesis.target, synthesis.sources, site.name,
                                                                       trained.path, trained.method.label),
                                     pmm_version(), trained.method.label)
        write_synthetic_series(sitk.GetArrayFromImage(synthesis.image), scan_series(inputs.reference_file), out, label)
    else:
        write_nifti_atomic(nifti_like_reference(synthesis.image, inputs.reference_file, description), out)
    write_sidecar(out, trained, target=synthesis.target, sources=synthesis.sources, site=site.name,
                  reference=inputs.reference_file, intensity=synthesis.intensity)
    return out


def nifti_like_reference(image: sitk.Image, reference_file: Path, description: str) -> nib.Nifti1Image:
    """float32 NIfTI on the reference's grid: a NIfTI reference's own header and affine (qform and
    sform codes kept), else (a DICOM series) the affine of its SimpleITK geometry."""
    if is_series_folder(reference_file):
        result = sitk_to_nifti(image)
    else:
        original = nib.load(str(reference_file))
        header = original.header.copy()
        header.set_data_dtype(np.float32)
        header.set_slope_inter(1.0, 0.0)
        data = np.transpose(sitk.GetArrayFromImage(image), (2, 1, 0)).astype(np.float32)
        result = nib.Nifti1Image(data, original.affine, header)
    result.header["descrip"] = description.encode()
    return result


def synthesize_record(trained: TrainedModel, site: SiteConfig, record: CaseImages, target: str, out: Path,
                      batch_size: int = 16, intensity_range: OutputRange = "scanner",
                      out_format: OutputFormat = "nifti") -> Path:
    """Synthesise `target` for one loaded case from all its images and write it with its sidecar."""
    refuse_target_among_inputs(target, record.images)
    synthesis = synthesize_target(trained, model_inputs(trained, site, record), target, batch_size, intensity_range)
    return write_synthesis(synthesis, trained, site, out, out_format)


def output_scale_description(known: SiteRecord, target: str, intensity_range: OutputRange) -> str:
    """What the sidecar says of the intensities: the scale and the mapping that produced it."""
    if intensity_range == "unit":
        return f"model [0, 1] ({known.intensity.scheme} standardization of site {known.name}), brain-masked"
    if target not in known.intensity.modalities:  # the paper's cross-site promise: a target the site never acquired
        raise PmmError(f"site {known.name} never acquired {target}, so there is no scanner scale of its {target} to "
                       f"write the synthesis in; add --range unit to write it in the model's [0, 1] scale (the "
                       f"sidecar says so), e.g. to compare with {target} from another site")
    typical = known.intensity.scale(target).typical
    return (f"scanner units: the inverse of site {known.name}'s {known.intensity.scheme} standardization "
            f"with its typical {target} volume (healthy-tissue level {typical.anchor:g}), brain-masked")


def read_inputs(files: Mapping[str, Path], case_id: str) -> CaseImages:
    """One patient's files (modality -> NIfTI file or DICOM series folder) read as a case."""
    return CaseImages(case_id=case_id, images={m: read_volume(p) for m, p in files.items()}, files=dict(files))


def refuse_before_reading(trained: TrainedModel, site: SiteConfig, inputs: Collection[str], target: str,
                          intensity_range: OutputRange) -> None:
    """An unknown site, task or output scale fails before any image is read."""
    refuse_target_among_inputs(target, inputs)
    output_scale_description(trained_site(trained, site), target, intensity_range)
    trained.usable_sources(list(inputs), target)


def synthesize(trained: TrainedModel, site: SiteConfig, inputs: dict[str, Path], target: str, out: Path,
               batch_size: int = 16, intensity_range: OutputRange = "scanner",
               out_format: OutputFormat = "nifti") -> Path:
    """The single-patient form: `inputs` maps modality → NIfTI file or DICOM series folder."""
    target = canonical_modality(target)
    refuse_before_reading(trained, site, inputs, target, intensity_range)
    try:
        record = read_inputs(inputs, out.name)
        return synthesize_record(trained, site, record, target, out, batch_size, intensity_range, out_format)
    except CaseError as exc:
        raise PmmError(str(exc)) from None
