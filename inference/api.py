"""pmm from Python: `Synthesizer`, what `pmm synthesize` and `pmm complete` call.

    from pmm.inference.api import Synthesizer

    model = Synthesizer.load("model.pmm")                   # or a best.pt, or "models:/NAME@champion"
    flair = model.synthesize({"T1": "t1.nii.gz", "T2": "t2.nii.gz"}, target="FLAIR", site="TTG")
    flair.to_filename("flair_synthetic.nii.gz")             # labelled SYNTHETIC in its header
    model.complete("TTG", out="ttg_completed", folder="new_patients/")

The model (and torch, and the brain-extraction network on first use) loads once; every call
after that reuses it. Images come back as nibabel images in the reference input's space and
grid; `image.extra["pmm"]` holds the same label the JSON sidecar of a written file holds.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import nibabel as nib
import torch

from pmm.inference.cohort import CohortSummary, synthesize_cohort
from pmm.inference.complete import CompletionOptions, CompletionSummary, complete_site
from pmm.inference.labelling import sidecar, synthetic_description
from pmm.inference.model_loading import TrainedModel, default_device
from pmm.inference.model_source import load_model
from pmm.inference.site_for_model import site_for_model
from pmm.inference.synthesize import (OutputFormat, model_inputs, nifti_like_reference, parse_input_files,
                                      read_inputs, refuse_before_reading, synthesize, synthesize_target)
from pmm_core.config.site import SiteConfig
from pmm_core.data.intensity import OutputRange
from pmm_core.errors import CaseError, PmmError
from pmm_core.modalities import canonical_modality


class Synthesizer:
    """A trained model (checkpoint, package or registry URI) ready to synthesize."""

    def __init__(self, trained: TrainedModel):
        self.trained = trained

    @classmethod
    def load(cls, source: str | Path, device: str | torch.device | None = None,
             tracking_uri: str | None = None) -> "Synthesizer":
        """`source`: a `.pmm` package, a checkpoint, or `models:/NAME/VERSION` / `models:/NAME@ALIAS`
        from the MLflow registry at `tracking_uri` (default: $MLFLOW_TRACKING_URI, else ./mlflow.db)."""
        return cls(load_model(source, torch.device(device) if device is not None else default_device(), tracking_uri))

    @property
    def sites(self) -> list[str]:
        """The sites the model was trained on (each has its own embedding and intensity scale)."""
        return [record.name for record in self.trained.sites]

    def site(self, site: str | SiteConfig | None = None, root: Path | None = None,
             one_patient: bool = False) -> SiteConfig:
        """A site as this model synthesizes for it: a config as given, a name or TOML path, or
        (None) the model's only site; without its TOML here, the model's record of it with its
        data in `root`."""
        if isinstance(site, SiteConfig):
            return site
        if site is None:
            if len(self.sites) != 1:
                raise PmmError(f"{self.trained.path} knows {len(self.sites)} sites ({', '.join(self.sites)}); "
                               "say which one the patient comes from with site=...")
            site = self.sites[0]
        return site_for_model(self.trained, site, Path(root) if root is not None else None, one_patient)

    def synthesize(self, inputs: Mapping[str, str | Path], target: str, site: str | SiteConfig | None = None,
                   batch_size: int = 16, intensity_range: OutputRange = "scanner") -> nib.Nifti1Image:
        """`target` for one patient from `inputs` (modality -> NIfTI file or DICOM series folder), on
        the reference input's grid, labelled synthetic in its header and in `extra["pmm"]`."""
        config = self.site(site, one_patient=True)
        files, target = parse_input_files(inputs), canonical_modality(target)
        refuse_before_reading(self.trained, config, files, target, intensity_range)
        try:
            record = read_inputs(files, "patient")
            synthesis = synthesize_target(self.trained, model_inputs(self.trained, config, record), target,
                                          batch_size, intensity_range)
        except CaseError as exc:
            raise PmmError(str(exc)) from None
        reference = synthesis.inputs.reference_file
        image = nifti_like_reference(synthesis.image, reference,
                                     synthetic_description(target, synthesis.sources, config.name, self.trained.path))
        image.extra["pmm"] = sidecar(self.trained, target, synthesis.sources, config.name, reference,
                                     synthesis.intensity)
        return image

    def synthesize_to(self, inputs: Mapping[str, str | Path], target: str, out: Path,
                      site: str | SiteConfig | None = None, batch_size: int = 16,
                      intensity_range: OutputRange = "scanner", out_format: OutputFormat = "nifti") -> Path:
        """As `synthesize`, written to `out` (NIfTI, or a DICOM series folder) with its JSON sidecar."""
        config = self.site(site, one_patient=True)
        return synthesize(self.trained, config, parse_input_files(inputs), target, Path(out), batch_size,
                          intensity_range, out_format)

    def synthesize_cohort(self, cohort: Path, target: str, out: Path, site: str | SiteConfig | None = None,
                          batch_size: int = 16, intensity_range: OutputRange = "scanner", progress: bool = False,
                          log: Callable[[str], None] = print) -> CohortSummary:
        """`target` for every case of `cohort` (a folder laid out like the site) into `out`."""
        return synthesize_cohort(self.trained, self.site(site, cohort), Path(cohort), target, Path(out), batch_size,
                                 progress, log, intensity_range)

    def complete(self, site: str | SiteConfig | None, out: Path, folder: Path | None = None,
                 options: CompletionOptions | None = None, progress: bool = False,
                 log: Callable[[str], None] = print) -> CompletionSummary:
        """A completed copy of the site (or of `folder`, laid out like it) in `out`: every missing
        sequence synthesized and labelled, real files linked."""
        options = options or CompletionOptions()
        if folder is not None:
            options = options.model_copy(update={"cohort": Path(folder)})
        return complete_site(self.trained, self.site(site, options.cohort), Path(out), options, progress, log)
