"""`pmm demo`: phantom → prepare → short training → evaluation → table, in about 10 minutes on 2 cores."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.errors import reports_errors


@reports_errors
def demo(
    out: Path = typer.Option(Path("demo"), "--out", help="Folder for the phantom data, cache, run and tables."),
    cases_per_site: int = typer.Option(6, "--cases-per-site", min=3, help="Phantom cases per site."),
    epochs: int = typer.Option(10, "--epochs", min=1, help="Training epochs (about 30 s each on 2 CPU cores)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the phantom."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlflow.db)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Run the whole pipeline on the embedded phantom federation and print the results table next to the linear baselines."""
    from pmm.centralized.demo import run_demo

    run_demo(out, cases_per_site, epochs, seed, tracking_uri, progress=not quiet, echo=typer.echo)
