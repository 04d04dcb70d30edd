"""`pmm complete`: a completed copy of a site, every missing sequence synthesized, in its native layout."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.errors import reports_errors
from pmm.text_inputs import OutputFormatChoice, OutputRangeChoice
from pmm_core.errors import PmmError


@reports_errors
def complete(
    checkpoint: str = typer.Option(..., "--checkpoint", help="The model: an exported package (NAME.pmm, `pmm export`), a checkpoint written by train-central (best.pt) or a federated site's model.pt, or a registered package: models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/latest."),
    site: str = typer.Option(..., "--site", help="The site to complete (name or TOML): its layout, file names, preprocessing and dataset embedding."),
    out: Path = typer.Option(..., "--out", help="The completed copy: the site's layout with real files linked and missing ones synthesized, plus pmm_completion.json."),
    targets: str = typer.Option(None, "--targets", help="Comma-separated modalities to fill where a case lacks them, e.g. T1C,FLAIR (default: every modality of the site the model can synthesize)."),
    split: str = typer.Option(None, "--split", help="Only the cases of this split (train, val or test) of the model's training data for the site."),
    cohort: Path = typer.Option(None, "--cohort", help="Complete this folder, laid out like the site (a new batch of patients), instead of the site's own root."),
    out_format: OutputFormatChoice = typer.Option("nifti", "--out-format", help="'nifti', or 'dicom' (generic sites whose cases are DICOM series folders): each synthesized series in its case's study and geometry, ImageType DERIVED\\SECONDARY, SeriesDescription starting with SYNTHETIC."),
    intensity_range: OutputRangeChoice = typer.Option("scanner", "--range", help="'scanner': the site's scanner scale (the inverse of its intensity standardization, with the site's typical volume of that modality); 'unit': the model's [0, 1] scale."),
    copy_files: bool = typer.Option(False, "--copy", help="Copy the real files instead of linking them (a copy that can be moved to another machine)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Slices synthesised at once."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow store a models:/ URI is looked up in (default: $MLFLOW_TRACKING_URI, else ./mlflow.db)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    r"""Write a completed copy of a site: for every case, each modality it lacks (or each of --targets) synthesized from all it has, under the name the site's layout gives it (BraTS names, ISLES'22 BIDS, the generic site's \[files] globs), so the folder drops into the tools that read that layout.

    Real files are linked (or with --copy copied), never rewritten. Every synthesized file is labelled: header description (DICOM: ImageType and SeriesDescription), a JSON sidecar with "Synthetic": true, and an entry in OUT/pmm_completion.json. Finished cases are skipped when the command runs again; a failing case is reported, leaves nothing behind, and makes the exit status 1.
    """
    from pmm.inference.complete import CompletionOptions

    intensity_range, out_format = intensity_range.value, out_format.value
    if cohort is not None and not cohort.is_dir():
        raise PmmError(f"{cohort}: --cohort folder not found")
    chosen = None
    if targets is not None:
        chosen = [t.strip() for t in targets.split(",") if t.strip()]
        if not chosen:
            raise PmmError("--targets is empty: give modalities, comma-separated, e.g. T1C,FLAIR")
    options = CompletionOptions(targets=chosen, split=split, cohort=cohort, out_format=out_format,
                                intensity_range=intensity_range, copy_files=copy_files, batch_size=batch_size)
    from pmm.inference.api import Synthesizer  # torch: once the arguments are good

    summary = Synthesizer.load(checkpoint, tracking_uri=tracking_uri).complete(
        site, out, options=options, progress=not quiet, log=lambda line: typer.echo(line, err=True))
    for line in summary.lines():
        typer.echo(line)
    if summary.failed:
        raise typer.Exit(1)
