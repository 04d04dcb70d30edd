"""Locating sites' caches and runs' checkpoints from what a user types on the command line."""
from __future__ import annotations

import time
from pathlib import Path

from pmm_core.config.site import find_site_file, load_site
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.errors import PmmError

RUNS_ROOT = Path("runs")


def site_cache_dirs(sites: str, cache_root: Path) -> list[Path]:
    """'TTG,BraTS' (names or TOML paths) → prepared cache folders, checked to exist."""
    names = [s.strip() for s in sites.split(",") if s.strip()]
    if not names:
        raise PmmError("--sites is empty: give one or more site names or TOML paths, comma-separated")
    folders = []
    for name in names:
        site = load_site(find_site_file(name))
        folder = Path(cache_root) / site.name
        load_fingerprint(folder)  # a clear error if the site was never prepared
        folders.append(folder)
    return folders


def resolve_checkpoint(value: str) -> Path:
    """A checkpoint file, a run folder (its last.pt), or a run name under ./runs."""
    candidate = Path(value)
    for path in (candidate, candidate / "last.pt", RUNS_ROOT / value / "last.pt"):
        if path.is_file():
            return path
    raise PmmError(f"{value}: no checkpoint there (give a .pt file, a run folder or a run name under {RUNS_ROOT}/)")


def new_run_dir(site_names: list[str]) -> Path:
    return RUNS_ROOT / f"{time.strftime('%Y%m%d-%H%M%S')}-{'-'.join(site_names)}"
