"""`pmm synthesize`: synthesise a missing sequence for one patient, in the patient's own space."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.errors import reports_errors


@reports_errors
def synthesize(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="A checkpoint written by train-central."),
    site: str = typer.Option(..., "--site", help="The site the patient comes from (name or TOML); sets preprocessing and the dataset embedding."),
    input: list[str] = typer.Option(..., "--input", help="MODALITY=FILE, repeat for each sequence you have, e.g. --input T1=t1.nii.gz."),
    target: str = typer.Option(..., "--target", help="The modality to synthesise (T1, T2, T1C, FLAIR, DWI or ADC)."),
    out: Path = typer.Option(..., "--out", help="Output NIfTI (.nii or .nii.gz), on the reference input's grid and affine."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Slices synthesised at once."),
) -> None:
    """Synthesise --target from the given inputs: the site's preprocessing, the model slice by slice, and the result put back on the reference input's full grid (brain-masked, float32, intensities in the model's [0, 1] range)."""
    from centralized.model_loading import default_device, load_trained_model
    from centralized.synthesize import parse_inputs
    from centralized.synthesize import synthesize as run_synthesis
    from pmm_core.config.site import find_site_file, load_site

    inputs = parse_inputs(input)
    site_config = load_site(find_site_file(site))
    trained = load_trained_model(checkpoint, default_device())
    written = run_synthesis(trained, site_config, inputs, target, out, batch_size)
    typer.echo(f"written {written}")
