"""What `pmm serve` hands to its ServerApp: a JSON file in the federation folder.

The ServerApp runs in a process the SuperLink starts, so it cannot take Python arguments; the
FAB's run config carries only the folder's path, and this file carries the rest.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pmm_core.atomic import atomic_destination
from pmm_core.config.federation import FederationOptions

SETTINGS_FILE = "federation.json"
STATUS_FILE = "status.json"


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    federation: FederationOptions
    name: str
    resume: bool = False
    tracking_uri: str | None = None
    experiment: str = "pmm"


class ServerStatus(BaseModel):
    """How the last ServerApp run ended: `pmm serve` reads it to print one line and pick its exit code."""

    ok: bool
    rounds_done: int
    message: str
    mlflow_run_id: str | None = None


def write_model(model: BaseModel, path: Path) -> None:
    with atomic_destination(path, ".json") as temporary:
        temporary.write_text(model.model_dump_json(indent=2))


def read_settings(folder: Path) -> ServerSettings:
    return ServerSettings.model_validate_json((Path(folder) / SETTINGS_FILE).read_text())


def read_status(folder: Path) -> ServerStatus | None:
    path = Path(folder) / STATUS_FILE
    return ServerStatus.model_validate_json(path.read_text()) if path.is_file() else None
