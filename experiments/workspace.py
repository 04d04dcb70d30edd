"""Where an experiment works: its phantom federation, its runs, its MLflow store, its results.

`<out>/phantom-<cases>-<seed>/` holds the prepared phantom (built once, reused by every
experiment of the same size), `<out>/<experiment>/` the runs of one experiment.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pmm_core.phantom.prepared import ensure_phantom_federation
from pmm.experiments.settings import ExperimentSettings

SITE_NAMES = ("TTG", "TTI", "BraTS", "ISLES")


@dataclass
class Workspace:
    out: Path
    name: str
    settings: ExperimentSettings
    tracking_uri: str | None
    echo: Callable[[str], None] = print
    quick: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def title_suffix(self) -> str:
        """Marks a quick run's section: too short to judge the paper's claims."""
        return " (quick setting: a smoke run, too short to judge the claims)" if self.quick else ""

    @property
    def phantom(self) -> Path:
        return self.out / f"phantom-{self.settings.cases_per_site}-{self.settings.seed}"

    @property
    def runs(self) -> Path:
        return self.out / self.name

    @property
    def cache(self) -> Path:
        return self.phantom / "cache"

    def prepare(self) -> None:
        ensure_phantom_federation(self.phantom, self.settings.cases_per_site, self.settings.seed, self.echo)

    def site_dir(self, site: str) -> Path:
        return self.cache / site

    def timed(self, label: str):
        """Context manager recording the wall seconds of one step under `label`."""
        return _Timer(self.timings, label)


class _Timer:
    def __init__(self, timings: dict[str, float], label: str):
        self.timings, self.label = timings, label

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self.timings[self.label] = round(time.perf_counter() - self.started, 1)

