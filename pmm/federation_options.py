"""Options `pmm serve` and `pmm simulate` share: what the federation trains and how it waits."""
from __future__ import annotations

from pathlib import Path
import typer

from pmm_core.errors import PmmError


def federation_settings(name: str | None, folder: Path, rounds: int, local_epochs: int, min_sites: int,
                        expected_sites: int | None,
                        config: Path | None, share_discriminators: bool, personal_modulation: bool,
                        round_timeout: float, wait_timeout: float, resume: bool, experiment: str,
                        tracking_uri: str | None):
    from pydantic import ValidationError

    from pmm_core.config.federation import FederationOptions
    from pmm_core.config.training import options_with_overrides
    from pmm_core.federated.partition import PartitionOptions
    from server.settings import ServerSettings

    shared = ["generator"] + ([] if personal_modulation else ["modulation"]) + (["discriminators"] if share_discriminators else [])
    try:
        options = FederationOptions(rounds=rounds, local_epochs=local_epochs, min_sites=min_sites,
                                    expected_sites=expected_sites,
                                    round_timeout_s=round_timeout, wait_timeout_s=wait_timeout,
                                    partition=PartitionOptions(shared=tuple(shared)),
                                    training=options_with_overrides(config))
    except ValidationError as exc:
        raise PmmError(f"federation options: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
    return ServerSettings(federation=options, name=name or Path(folder).resolve().name, resume=resume,
                          experiment=experiment, tracking_uri=tracking_uri)


# typer options shared by serve and simulate, declared once so their help texts match
ROUNDS = typer.Option(100, "--rounds", min=1, help="Federated rounds.")
LOCAL_EPOCHS = typer.Option(1, "--local-epochs", min=1, help="Epochs each site trains per round.")
CONFIG = typer.Option(None, "--config", help="Training options TOML (as for train-central): model, losses, lr, batch.")
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
