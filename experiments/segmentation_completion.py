"""The segmentation experiment's synthesized inputs, made the way a user makes them: `pmm complete`.

For each site the test cases' raw files are linked into a cohort without the missing modality,
`complete_site` (the code behind `pmm complete`) writes the completed copy in the site's native
layout and scanner scale, and that copy is prepared like any site. The U-Net then reads the
synthesized modality exactly as it would read an acquired one, through the same reader,
preprocessing and standardization, so the experiment checks the command users run rather than
an in-memory shortcut.
"""
from __future__ import annotations

from pathlib import Path

from pmm.inference.complete import CompletionOptions, case_files, complete_site
from pmm.inference.model_loading import TrainedModel
from pmm.experiments.segmentation_data import labelled_cases
from pmm_core.atomic import link_file
from pmm_core.config.site import load_site
from pmm_core.data.case_volume import StandardizedCase
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.prepare_site import prepare_site
from pmm_core.data.readers import discover_cases


def cohort_without(site_toml: Path, case_ids: list[str], missing: str, cohort: Path) -> Path:
    """`case_ids`' raw files linked into `cohort` in the site's layout, `missing`'s file left out."""
    site = load_site(site_toml)
    root = Path(site.root)
    for source in discover_cases(site)[0]:
        if source.case_id in case_ids:
            for real in case_files(source):
                if real != source.files.get(missing):
                    link_file(real, cohort / real.relative_to(root))
    return cohort


def completed_cases(trained: TrainedModel, site_toml: Path, site_dir: Path, inputs: tuple[str, ...], missing: str,
                    work: Path) -> list[StandardizedCase]:
    """The test split with `missing` synthesized by `pmm complete`'s code, prepared, in the site's
    own scale (the one its U-Net was trained in)."""
    site = load_site(site_toml)
    fingerprint = load_fingerprint(site_dir)
    cohort = cohort_without(site_toml, fingerprint.split_cases("test"), missing, work / "missing")
    completed = work / "completed"
    summary = complete_site(trained, site, completed, CompletionOptions(targets=[missing], cohort=cohort),
                            progress=False)
    if summary.failed:
        raise RuntimeError(f"pmm complete failed on {site.name}: {summary.failed}")
    prepared = prepare_site(site.model_copy(update={"root": completed}), work / "cache", progress=False,
                            log=lambda _: None)
    if prepared.failed:
        raise RuntimeError(f"preparing the completed {site.name} failed: {prepared.failed}")
    return labelled_cases(work / "cache" / site.name, None, inputs, standardization=fingerprint.intensity)
