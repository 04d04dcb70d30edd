"""The phantom federation written and prepared, built once per folder and reused after.

`pmm demo`, the experiments, the benchmarks, the GPU check and the tests all train on the same
prepared phantom; they all build it here. The four sites are written by one process each (a
site's cases depend only on the seed and the site, so the files are the same as written one
after another) and prepared at the same time, each with its share of the cores: on two cores
this builds the test-size federation in about half the time of site after site.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from pmm_core.config.site import load_site
from pmm_core.data.cache import CACHE_FORMAT
from pmm_core.data.prepare_site import PrepareSummary, prepare_site
from pmm_core.errors import PmmError
from pmm_core.phantom.anatomy import template_maps
from pmm_core.phantom.federation import write_federation
from pmm_core.phantom.sites import SITES

SITE_FILES = tuple(site.name.lower() for site in SITES)  # ttg, tti, brats, isles


def _write_site(out: Path, site: str, cases_per_site: int, seed: int, size: str) -> None:
    write_federation(out, cases_per_site=cases_per_site, seed=seed, size=size, progress=False, sites=(site,))


def _build_template_maps(resolution: int) -> None:
    template_maps(resolution)  # cached on disk for the other workers; the arrays are not sent back


def build_phantom_federation(out: Path, cases_per_site: int, seed: int, echo: Callable[[str], None] = print,
                             size: str = "test") -> Path:
    """The four phantom sites written under `out` and prepared into `out/cache`; returns the cache."""
    out = Path(out)
    # spawned, not forked: the caller may hold CUDA or torch's threads, which a fork must not copy
    with ProcessPoolExecutor(len(SITES), mp_context=multiprocessing.get_context("spawn")) as pool:
        # the template maps first, in one worker: on a machine without them, four workers starting
        # together would each build them (5.4 CPU s each at test size) before one cached them
        pool.submit(_build_template_maps, 2 if size == "test" else 1).result()
        list(pool.map(_write_site, *zip(*[(out, s.name, cases_per_site, seed, size) for s in SITES])))
    cache = out / "cache"
    workers = max(1, (os.cpu_count() or 1) // len(SITES))

    def prepare(name: str) -> PrepareSummary:  # each site's own process pool does the work
        return prepare_site(load_site(out / "sites" / f"{name}.toml"), cache, workers=workers, progress=False,
                            log=lambda _: None)

    with ThreadPoolExecutor(len(SITE_FILES)) as pool:
        summaries = list(pool.map(prepare, SITE_FILES))
    for summary in summaries:
        if summary.failed:
            raise PmmError(f"phantom site {summary.site}: {len(summary.failed)} case(s) failed to prepare: "
                           f"{summary.failed[0][1]}")
        echo(f"    {summary.site}: {summary.num_cases} cases, "
             f"{summary.fingerprint.num_slices if summary.fingerprint else 0} slices")
    return cache


def _ready_record(cases_per_site: int, seed: int, size: str) -> dict:
    record = {"cases_per_site": cases_per_site, "seed": seed, "cache_format": CACHE_FORMAT}
    return record | ({"size": size} if size != "test" else {})  # test-size folders keep their old marker


def phantom_ready(out: Path, cases_per_site: int, seed: int, size: str = "test") -> bool:
    """True when `out` holds a finished, prepared phantom federation built with these settings.

    The READY marker is written last and records the settings and the cache format, so an
    interrupted build, one with other settings or one an older pmm prepared is never taken for this one.
    """
    try:
        return json.loads((Path(out) / "READY").read_text()) == _ready_record(cases_per_site, seed, size)
    except (OSError, ValueError):
        return False


def mark_ready(out: Path, cases_per_site: int, seed: int, size: str = "test") -> None:
    (Path(out) / "READY").write_text(json.dumps(_ready_record(cases_per_site, seed, size)))


def ensure_phantom_federation(out: Path, cases_per_site: int, seed: int = 0, echo: Callable[[str], None] = print,
                              size: str = "test") -> Path:
    """The prepared phantom federation in `out` (a folder of pmm's own), built on first use and reused after."""
    out = Path(out)
    if not phantom_ready(out, cases_per_site, seed, size):
        shutil.rmtree(out, ignore_errors=True)
        echo(f"preparing the phantom federation once ({cases_per_site} {size}-size cases per site) -> {out}")
        build_phantom_federation(out, cases_per_site, seed, echo=echo, size=size)
        mark_ready(out, cases_per_site, seed, size)
    return out / "cache"
