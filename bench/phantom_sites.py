"""The prepared four-site phantom federation that the quality benchmarks train and score on.

Built once with the demo's own path (phantom at test size, then `pmm prepare` of every site)
into bench/.work/, and reused by later runs: the benchmarks time training, not preparation.
"""
from __future__ import annotations

from pathlib import Path

from pmm_core.phantom.prepared import ensure_phantom_federation

WORK = Path(__file__).parent / ".work"
SITE_NAMES = ("TTG", "TTI", "BraTS", "ISLES")


def phantom_sites(cases_per_site: int = 6, seed: int = 0) -> tuple[list[Path], Path]:
    """(prepared site folders, federation folder holding sites/*.toml), made on first use."""
    out = WORK / f"phantom-{cases_per_site}-{seed}"
    cache = ensure_phantom_federation(out, cases_per_site, seed)
    return [cache / name for name in SITE_NAMES], out
