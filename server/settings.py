"""What `pmm serve` hands to its ServerApp: a JSON file in the federation folder.

The ServerApp runs in a process the SuperLink starts, so it cannot take Python arguments; the
FAB's run config carries only the folder's path, and this file carries the rest.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from pmm_core.config.validation import validation_message
from pmm_core.atomic import atomic_destination
from pmm_core.config.federation import FederationOptions
from pmm_core.config.training import TrainingOptions
from pmm_core.errors import PmmError
from pmm_core.config.partition import PartitionOptions

SETTINGS_FILE = "federation.json"
STATUS_FILE = "status.json"


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    federation: FederationOptions
    name: str
    resume: bool = False
    tracking_uri: str | None = None
    experiment: str = "pmm"
    registered_model: str | None = None  # the finished federation's shared network, as a registered package


class ServerStatus(BaseModel):
    """How the last ServerApp run ended: `pmm serve` reads it to print one line and pick its exit code."""

    ok: bool
    rounds_done: int
    message: str
    mlflow_run_id: str | None = None


def build_server_settings(folder: Path, rounds: int, min_sites: int, *, name: str | None = None,
                          local_epochs: int = 1, expected_sites: int | None = None, training: TrainingOptions | None = None,
                          share_discriminators: bool = False, personal_modulation: bool = False,
                          round_timeout: float = 6 * 3600.0, wait_timeout: float = 600.0, resume: bool = False,
                          experiment: str = "pmm", tracking_uri: str | None = None,
                          register: str | None = None) -> ServerSettings:
    """The settings of one federation from the options `pmm serve`, `pmm simulate` and the
    experiments all take; the run is named after its folder unless `name` is given."""
    shared = ["generator"] + ([] if personal_modulation else ["modulation"]) + \
        (["discriminators"] if share_discriminators else [])
    try:
        options = FederationOptions(rounds=rounds, local_epochs=local_epochs, min_sites=min_sites,
                                    expected_sites=expected_sites, round_timeout_s=round_timeout,
                                    wait_timeout_s=wait_timeout, partition=PartitionOptions(shared=tuple(shared)),
                                    training=training or TrainingOptions())
    except ValidationError as exc:
        raise PmmError(validation_message("federation options", exc)) from None
    return ServerSettings(federation=options, name=name or Path(folder).resolve().name, resume=resume,
                          experiment=experiment, tracking_uri=tracking_uri,
                          registered_model=register)


def write_model(model: BaseModel, path: Path) -> None:
    with atomic_destination(path, ".json") as temporary:
        temporary.write_text(model.model_dump_json(indent=2))


def read_settings(folder: Path) -> ServerSettings:
    return ServerSettings.model_validate_json((Path(folder) / SETTINGS_FILE).read_text())


def read_status(folder: Path) -> ServerStatus | None:
    path = Path(folder) / STATUS_FILE
    return ServerStatus.model_validate_json(path.read_text()) if path.is_file() else None
