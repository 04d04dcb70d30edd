"""Locating runs' checkpoints from what a user types on the command line."""
from __future__ import annotations

import time
from pathlib import Path

from pmm_core.errors import PmmError

RUNS_ROOT = Path("runs")


def resolve_checkpoint(value: str) -> Path:
    """A checkpoint file, a run folder (its last.pt), or a run name under ./runs."""
    candidate = Path(value)
    for path in (candidate, candidate / "last.pt", RUNS_ROOT / value / "last.pt"):
        if path.is_file():
            return path
    raise PmmError(f"{value}: no checkpoint there (give a .pt file, a run folder or a run name under {RUNS_ROOT}/)")


def new_run_dir(site_names: list[str]) -> Path:
    return RUNS_ROOT / f"{time.strftime('%Y%m%d-%H%M%S')}-{'-'.join(site_names)}"


def default_run_dir(site_dirs: list[Path]) -> Path:
    """runs/<time>-<sites>."""
    return new_run_dir([Path(d).name for d in site_dirs])
