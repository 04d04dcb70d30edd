"""`pmm synthesize`: a missing sequence for one patient (--input) or a whole cohort (--cohort)."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.errors import reports_errors
from pmm.text_inputs import OutputFormatChoice, OutputRangeChoice
from pmm_core.errors import PmmError


@reports_errors
def synthesize(
    checkpoint: str = typer.Option(..., "--checkpoint", help="The model: an exported package (NAME.pmm, `pmm export`), a checkpoint written by train-central (best.pt) or a federated site's model.pt, or a registered package: models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/latest."),
    site: str = typer.Option(..., "--site", help="The site the patients come from (name or TOML); sets preprocessing and the dataset embedding."),
    target: str = typer.Option(..., "--target", help="The modality to synthesise (T1, T2, T1C, FLAIR, DWI or ADC)."),
    out: Path = typer.Option(..., "--out", help="One patient: the output NIfTI (.nii or .nii.gz), or with --out-format dicom the output series folder. A cohort: the output folder (OUT/<case>/<case>_<TARGET>_synthetic.nii.gz)."),
    input: list[str] = typer.Option(None, "--input", help="One patient: MODALITY=FILE or MODALITY=DIR (a folder holding one DICOM series), repeat for each sequence you have, e.g. --input T1=t1.nii.gz --input T2=dicom/T2_TSE."),
    cohort: Path = typer.Option(None, "--cohort", help="A whole cohort: a folder of cases laid out like the site (its layout and file globs); each case gets --target from all it has."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Slices synthesised at once."),
    intensity_range: OutputRangeChoice = typer.Option("scanner", "--range", help="'scanner': intensities mapped back to the site's scanner scale (the inverse of its intensity standardization); 'unit': the model's [0, 1] scale."),
    out_format: OutputFormatChoice = typer.Option("nifti", "--out-format", help="'nifti', or 'dicom': a new DICOM series (one file per slice) in the reference input's study and geometry, ImageType DERIVED\\SECONDARY, SeriesDescription starting with SYNTHETIC; the reference input must be a DICOM series."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow store a models:/ URI is looked up in (default: $MLFLOW_TRACKING_URI, else ./mlflow.db)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Synthesise --target from the given inputs: the site's preprocessing, the model slice by slice, and the result put back on the reference input's full grid (brain-masked, float32, in the site's scanner scale or with --range unit the model's [0, 1] scale).

    Each output is labelled synthetic in its NIfTI header and in a JSON sidecar beside it. With --cohort the model is loaded once for all cases, finished outputs are kept, and a failing case is reported and skipped (exit status 1 at the end).
    """
    from pmm.inference.synthesize import parse_inputs

    if bool(input) == (cohort is not None):
        raise PmmError("give either --input MODALITY=FILE (one patient) or --cohort DIR (every case in DIR), not both")
    intensity_range, out_format = intensity_range.value, out_format.value
    if cohort is not None and out_format != "nifti":
        raise PmmError("--out-format dicom is for one patient (--input); for a whole site use `pmm complete --out-format dicom`")
    if cohort is not None and not cohort.is_dir():
        raise PmmError(f"{cohort}: --cohort folder not found")
    inputs = parse_inputs(input) if input else None
    from pmm.inference.api import Synthesizer  # torch: once the arguments are good

    model = Synthesizer.load(checkpoint, tracking_uri=tracking_uri)
    if cohort is not None:
        summary = model.synthesize_cohort(cohort, target, out, site, batch_size, intensity_range, progress=not quiet,
                                          log=lambda line: typer.echo(line, err=True))
        for line in summary.lines():
            typer.echo(line)
        if summary.failed:
            raise typer.Exit(1)
        return
    written = model.synthesize_to(inputs, target, out, site, batch_size, intensity_range, out_format)
    typer.echo(f"written {written}")
