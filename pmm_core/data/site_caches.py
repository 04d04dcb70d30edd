"""From site names or site TOML paths to their prepared cache folders."""
from __future__ import annotations

from pathlib import Path

from pmm_core.config.site import find_site_file, load_site
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.errors import PmmError


def site_cache_dirs(sites: list[str | Path], cache_root: Path) -> list[Path]:
    """Site names or TOML paths → their prepared cache folders, checked to exist."""
    names = [str(s).strip() for s in sites if str(s).strip()]
    if not names:
        raise PmmError("no site given: name one or more sites or site TOML files")
    folders = []
    for name in names:
        site = load_site(find_site_file(name))
        folder = Path(cache_root) / site.name
        load_fingerprint(folder)  # a clear error if the site was never prepared
        folders.append(folder)
    return folders
