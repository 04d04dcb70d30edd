"""`pmm experiment NAME [--quick]`: reproduce one of the paper's experiments on the phantom."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from pmm.errors import reports_errors


@reports_errors
def experiment(
    name: str = typer.Argument(..., help="tables (Tables 1-2 with the paper's claims), mcbs (MCBS on/off), "
                                         "segmentation (Fig. 2c: U-Net Dice, a modality real, missing or synthesized), "
                                         "normalization (the intensity schemes compared)."),
    quick: bool = typer.Option(False, "--quick", help="The CI-sized version: minutes instead of hours."),
    settings: Path = typer.Option(None, "--settings", help="Your own settings TOML instead of "
                                  "experiments/configs/NAME.toml (same keys; e.g. the paper's model size on a GPU)."),
    out: Path = typer.Option(Path("pmm_experiments"), "--out",
                             help="Working folder: the phantom, every run, results.json/.md and plots."),
    doc: Path = typer.Option(None, "--doc", help="Also update this experiment's section of a results document "
                                                 "(the repository's docs/RESULTS.md)."),
    tracking_uri: str = typer.Option(None, "--tracking-uri",
                                     help="MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlflow.db); "
                                          "runs go to the experiment 'experiments'."),
) -> None:
    """Reproduce one of the paper's experiments on the phantom federation, through the same code
    paths users run; finished runs in --out are reused, so an interrupted experiment continues.

    NAME: tables (Tables 1-2 and the paper's claims), mcbs (MCBS on and off), segmentation
    (Fig. 2c: U-Net Dice with a modality real, missing or synthesized), normalization (the full
    model trained with each intensity scheme, scored in one common window), pathology (the
    options beyond the paper that reach the lesion, alone and together, scored inside it)."""
    from pmm.experiments.runner import run_experiment

    command = "pmm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    run_experiment(name, quick, out, doc, tracking_uri, command, typer.echo, settings)
