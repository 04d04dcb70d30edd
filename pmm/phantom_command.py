"""`pmm phantom --out DIR`: write the four-site phantom federation and its site TOMLs."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.errors import reports_errors


@reports_errors
def phantom(
    out: Path = typer.Option(..., "--out", help="Folder to write DIR/TTG, DIR/TTI, DIR/BraTS, DIR/ISLES and DIR/sites/."),
    cases_per_site: int = typer.Option(3, "--cases-per-site", min=1, help="Cases written per site."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same files."),
    size: str = typer.Option("test", "--size", help="'test' (reduced resolution, seconds) or 'full' (native sizes)."),
    dicom: bool = typer.Option(False, "--dicom", help="Write the in-house sites (TTG, TTI) as scanners export them: one DICOM series folder per modality, one study per case."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Write a phantom federation that behaves like the paper's four sites (TTG, TTI, BraTS, ISLES'22).

    Anatomy from the ICBM152 template, contrast from MR signal equations, each site with its own protocol, scanner, geometry, disease and file layout. Prepare a site with `pmm prepare --site DIR/sites/ttg.toml`.
    """
    from pmm_core.phantom.federation import write_federation

    written = write_federation(out, cases_per_site=cases_per_site, seed=seed, size=size, progress=not quiet,
                               dicom=dicom)
    for site, cases in written.items():
        typer.echo(f"{site}: {len(cases)} cases -> {out / site} (montage: {out / site / 'montage.png'})")
    typer.echo(f"site TOMLs: {out / 'sites'}; next: pmm prepare --site {out / 'sites' / 'ttg.toml'}")
