"""Which experiment runs, with which settings, in which workspace."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

from experiments.settings import experiment_names, load_settings
from experiments.workspace import Workspace
from pmm_core.errors import PmmError


def run_experiment(name: str, quick: bool, out: Path, doc: Path | None, tracking_uri: str | None, command: str,
                   echo: Callable[[str], None] = print) -> Path:
    if name not in experiment_names():
        raise PmmError(f"unknown experiment {name!r}; choose from {', '.join(experiment_names())}")
    settings = load_settings(name, quick)
    space = Workspace(Path(out) / ("quick" if quick else "full"), name, settings, tracking_uri, echo, quick)
    return importlib.import_module(f"experiments.{name}").run(space, doc, command)
