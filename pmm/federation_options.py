"""Options `pmm serve` and `pmm simulate` share: what the federation trains and how it waits.
The settings they build come from `server.settings.build_server_settings`."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.paper_recipe_help import paper_recipe_help

# typer options shared by serve and simulate, declared once so their help texts match
ROUNDS = typer.Option(100, "--rounds", min=1, help="Federated rounds.")
LOCAL_EPOCHS = typer.Option(1, "--local-epochs", min=1, help="Epochs each site trains per round; the learning rate follows the paper's schedule over rounds x local epochs.")
CONFIG = typer.Option(None, "--config", help="Training options TOML (as for train-central): model, losses, lr, batch; its epochs become rounds x local epochs.")
PAPER_RECIPE = typer.Option(False, "--paper-recipe", help=paper_recipe_help())
SHARE_DISCRIMINATORS = typer.Option(False, "--share-discriminators", help="Average the discriminators too (default: each site keeps its own).")
PERSONAL_MODULATION = typer.Option(False, "--personal-modulation", help="Keep the PFM modulation MLPs at each site (pFLSynth-style).")
ROUND_TIMEOUT = typer.Option(6 * 3600.0, "--round-timeout", min=1.0, help="Seconds a round waits for replies (sized for hours-long local epochs).")
WAIT_TIMEOUT = typer.Option(600.0, "--wait-timeout", min=1.0, help="Seconds to wait for --min-sites sites to connect before stopping.")
EXPERIMENT = typer.Option("pmm", "--experiment", help="MLflow experiment name.")
TRACKING_URI = typer.Option(None, "--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlflow.db).")
FOLDER = typer.Option(Path("pmm_federation"), "--dir", help="Federation folder: settings, global.pt, logs, SuperLink state.")
RESUME = typer.Option(False, "--resume", help="Continue from the last completed round saved in --dir.")


def report(status, echo) -> None:
    """Print how the federation ended; a stopped federation exits 1."""
    echo(status.message + (f" (MLflow run {status.mlflow_run_id})" if status.mlflow_run_id else ""))
    if not status.ok:
        raise typer.Exit(1)
