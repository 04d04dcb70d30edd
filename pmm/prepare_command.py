"""`pmm prepare --site S`: preprocess one site into the slice cache."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pmm.errors import reports_errors

if TYPE_CHECKING:
    from pmm_core.data.prepare_site import PrepareSummary


def format_summary(summary: PrepareSummary) -> list[str]:
    fingerprint = summary.fingerprint
    lines = [
        f"site {summary.site}: {summary.num_cases} cases ({len(summary.prepared)} prepared, "
        f"{len(summary.reused)} reused from cache), {fingerprint.num_slices if fingerprint else 0} slices -> {summary.site_dir}"
    ]
    if fingerprint:
        lines.append("availability patterns:")
        lines += [f"  {pattern}: {count}" for pattern, count in fingerprint.availability_patterns.items()]
        split = fingerprint.split
        lines.append(f"split: train {len(split['train'])}, val {len(split['val'])}, test {len(split['test'])}")
        intensity = fingerprint.intensity
        lines.append(f"intensity: {intensity.scheme} scheme, learned on the training split "
                     "(healthy-tissue level / upper bound relative to it):")
        lines += [f"  {m}: {scale.typical.anchor:g} / {scale.upper:g}" for m, scale in intensity.modalities.items()]
    if summary.failed:
        lines.append(f"skipped {len(summary.failed)} case(s):")
        lines += [f"  {case_id}: {reason}" for case_id, reason in summary.failed]
    return lines


@reports_errors
def prepare(
    site: str = typer.Option(..., "--site", help="Site name (looked up in sites/ or $PMM_SITES_DIR) or a site TOML path."),
    workers: int = typer.Option(min(os.cpu_count() or 1, 4), "--workers", min=1, help="Cases preprocessed in parallel."),
    force: bool = typer.Option(False, "--force", help="Rebuild cases that are already cached."),
    cache_root: Path = typer.Option(None, "--cache-dir", help="Cache root (default: $PMM_CACHE_DIR, else ./pmm_cache)."),
    crop_size: int = typer.Option(None, "--crop-size", min=8, help="Override the site's in-plane crop size."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    r"""Preprocess one site (register, skull-strip, resample, measure intensities, crop) into the slice cache.

    The site's intensity standardization (\[preprocess] intensity) is learned on its training split and written to its fingerprint. Cases already cached with the same files and options are reused; changing only the scheme rewrites only the fingerprint. A case that fails is reported and skipped; the command then exits with status 1 after caching the others.

    The case split is drawn once and kept in the cache's splits.json: a re-run assigns new cases without moving the others, and a case missing this time keeps its place. \[split] file = "splits.json" in the site TOML uses a split of your own (JSON lists train, val, test); delete the cache's splits.json to draw again.
    """
    from pmm_core.config.site import find_site_file, load_site
    from pmm_core.data.cache import default_cache_root
    from pmm_core.data.prepare_site import prepare_site

    config = load_site(find_site_file(site))
    if crop_size is not None:
        config.preprocess.crop_size = crop_size
    summary = prepare_site(config, cache_root or default_cache_root(), workers=workers, force=force, progress=not quiet)
    for line in format_summary(summary):
        typer.echo(line)
    if summary.failed:
        raise typer.Exit(1)
