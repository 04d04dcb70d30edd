"""From what a user types (`--sites TTG,BraTS` or TOML paths) to prepared cache folders."""
from __future__ import annotations

from pathlib import Path

from pmm_core.config.site import find_site_file, load_site
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.errors import PmmError


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
