"""Which experiment runs, with which settings, in which workspace."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

from pmm.experiments.settings import experiment_names, load_settings
from pmm_core.errors import PmmError


def run_experiment(name: str, quick: bool, out: Path, doc: Path | None, tracking_uri: str | None, command: str,
                   echo: Callable[[str], None] = print, settings_file: Path | None = None) -> Path:
    """Runs go to `<out>/full`, `<out>/quick`, or `<out>/<settings file stem>` for own settings."""
    if name not in experiment_names():
        raise PmmError(f"unknown experiment {name!r}; choose from {', '.join(experiment_names())}")
    settings = load_settings(name, quick, settings_file)
    from pmm.experiments.workspace import Workspace  # torch and MLflow: only once the name and settings are good

    folder = Path(settings_file).stem + ("-quick" if quick else "") if settings_file else ("quick" if quick else "full")
    full = load_settings(name, quick=False)
    smoke = quick or settings.epochs < full.epochs or settings.cases_per_site < full.cases_per_site  # marked as such
    space = Workspace(Path(out) / folder, name, settings, tracking_uri, echo, smoke)
    return importlib.import_module(f"pmm.experiments.{name}").run(space, doc, command)
