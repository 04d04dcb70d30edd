"""A phantom cache whose sites differ from the prepared ones only in their fingerprint.

The cache stores anchor-relative intensities, so what a site's intensity options change (the
scheme, the headroom above the learned bound) is only its fingerprint. A variant is a folder
`cache-<name>` beside the phantom's cache: per site a link to the cached case folders and the
fingerprint `pmm prepare` would write for the site TOML with `[preprocess]` changed, built from
the cached cases' records.
"""
from __future__ import annotations

import os
from typing import Any

from pmm.experiments.workspace import SITE_NAMES, Workspace
from pmm_core.config.site import load_site
from pmm_core.data.cache import case_cache_dir, read_case_meta
from pmm_core.data.fingerprint import build_fingerprint, load_fingerprint, write_fingerprint
from pmm_core.errors import PmmError


def variant_cache(space: Workspace, name: str, preprocess: dict[str, Any]) -> str:
    """The cache folder (relative to the phantom, as `train_central` takes it) of the four sites
    with `preprocess` applied; `cache` itself where every site was prepared so already."""
    prepared = {site: load_fingerprint(space.site_dir(site)) for site in SITE_NAMES}
    if all(fingerprint.preprocess | preprocess == fingerprint.preprocess for fingerprint in prepared.values()):
        return "cache"
    data = f"cache-{name}"
    for site in SITE_NAMES:
        config = load_site(space.phantom / "sites" / f"{site.lower()}.toml")
        config.preprocess = config.preprocess.model_copy(update=preprocess)
        folder = space.phantom / data / site
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "cases").exists():
            os.symlink(os.path.relpath(space.cache / site / "cases", folder), folder / "cases")
        metas = [read_case_meta(case_cache_dir(space.site_dir(site), case)) for case in sorted(prepared[site].cases)]
        if any(meta is None for meta in metas):
            raise PmmError(f"{space.site_dir(site)}: a cached case is missing; delete {space.phantom} to rebuild it")
        write_fingerprint(folder, build_fingerprint(config, metas, prepared[site].split))
    return data
