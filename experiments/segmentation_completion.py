"""The segmentation experiment's synthesized inputs, made the way a user makes them: `pmm complete`.

For each site the test cases' raw files are linked into a cohort without the missing modality,
`complete_site` (the code behind `pmm complete`) writes the completed copy in the site's native
layout and scanner scale, and that copy is prepared like any site. The U-Net then reads the
synthesized modality exactly as it would read an acquired one, through the same reader,
preprocessing and standardization, so the experiment checks the command users run rather than
an in-memory shortcut. Held-out cases (`segmentation_heldout`), which the prepared phantom never
holds, are read the same way with every modality real (`real_cases`).
"""
from __future__ import annotations

from pathlib import Path

from pmm.inference.complete import CompletionOptions, case_files, complete_site
from pmm.inference.model_loading import TrainedModel
from pmm.experiments.segmentation_data import labelled_cases
from pmm_core.atomic import link_file
from pmm_core.config.site import SiteConfig, load_site
from pmm_core.data.case_volume import StandardizedCase
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.prepare_site import prepare_site
from pmm_core.data.readers import discover_cases


def linked_cohort(site_toml: Path, case_ids: list[str], cohort: Path, left_out: str | None = None) -> Path:
    """`case_ids`' raw files linked into `cohort` in the site's layout, `left_out`'s file (a modality) left out."""
    site = load_site(site_toml)
    root = Path(site.root)
    for source in discover_cases(site)[0]:
        if source.case_id in case_ids:
            for real in case_files(source):
                if left_out is None or real != source.files.get(left_out):
                    link_file(real, cohort / real.relative_to(root))
    return cohort


def prepared_in_site_scale(site: SiteConfig, root: Path, site_dir: Path, inputs: tuple[str, ...],
                           work: Path) -> list[StandardizedCase]:
    """The cases under `root` (the site's layout) prepared like any site and read in the scale the
    site learned on its training split (`site_dir`'s), the one its U-Net was trained in."""
    prepared = prepare_site(site.model_copy(update={"root": root}), work / "cache", progress=False,
                            log=lambda _: None)
    if prepared.failed:
        raise RuntimeError(f"preparing {root} ({site.name}) failed: {prepared.failed}")
    return labelled_cases(work / "cache" / site.name, None, inputs,
                          standardization=load_fingerprint(site_dir).intensity)


def completed_cases(trained: TrainedModel, site_toml: Path, site_dir: Path, inputs: tuple[str, ...], missing: str,
                    work: Path, case_ids: list[str] | None = None) -> list[StandardizedCase]:
    """The test split (or `case_ids` of the site at `site_toml`) with `missing` synthesized by
    `pmm complete`'s code, prepared, in the site's own scale."""
    site = load_site(site_toml)
    case_ids = case_ids if case_ids is not None else load_fingerprint(site_dir).split_cases("test")
    cohort = linked_cohort(site_toml, case_ids, work / "missing", left_out=missing)
    completed = work / "completed"
    summary = complete_site(trained, site, completed, CompletionOptions(targets=[missing], cohort=cohort),
                            progress=False)
    if summary.failed:
        raise RuntimeError(f"pmm complete failed on {site.name}: {summary.failed}")
    return prepared_in_site_scale(site, completed, site_dir, inputs, work)


def real_cases(site_toml: Path, site_dir: Path, inputs: tuple[str, ...], work: Path,
               case_ids: list[str]) -> list[StandardizedCase]:
    """`case_ids` of the site at `site_toml`, every modality real, prepared, in the site's own scale."""
    cohort = linked_cohort(site_toml, case_ids, work / "real")
    return prepared_in_site_scale(load_site(site_toml), cohort, site_dir, inputs, work)
