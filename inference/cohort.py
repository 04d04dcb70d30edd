"""Synthesis for a whole cohort in one process: `pmm synthesize --cohort DIR`.

A hospital fills a missing sequence for hundreds of patients at once, so the start-up cost (the
model, the brain-extraction network, torch itself) is paid once, the cases run one after
another behind a progress bar, a case that fails is reported and skipped, and outputs that are
already finished (image and sidecar from the same checkpoint) are not redone: an interrupted run
picks up where it stopped.

The cohort folder is laid out like the site (its layout and file globs), so a site's own data
folder, or a new batch of patients in the same layout, can be given as it is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

from pmm.inference.labelling import finished_output
from pmm.inference.model_loading import TrainedModel
from pmm.inference.synthesize import output_scale_description, synthesize_record, trained_site
from pmm_core.config.site import SiteConfig
from pmm_core.data.intensity import OutputRange
from pmm_core.data.readers import discover_cases, load_case
from pmm_core.errors import CaseError
from pmm_core.modalities import canonical_modality


@dataclass
class CohortSummary:
    written: list[Path] = field(default_factory=list)
    reused: list[Path] = field(default_factory=list)
    acquired: list[str] = field(default_factory=list)    # cases that have the target already
    failed: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"{len(self.written)} written, {len(self.reused)} already finished, "
                 f"{len(self.acquired)} have the target already, {len(self.failed)} failed"]
        lines += [f"  failed {case_id}: {reason}" for case_id, reason in self.failed]
        return lines


def cohort_output(out_dir: Path, case_id: str, target: str) -> Path:
    return out_dir / case_id / f"{case_id}_{target}_synthetic.nii.gz"


def synthesize_cohort(trained: TrainedModel, site: SiteConfig, cohort_root: Path, target: str, out_dir: Path,
                      batch_size: int = 16, progress: bool = True, log: Callable[[str], None] = print,
                      intensity_range: OutputRange = "scanner") -> CohortSummary:
    """Synthesise `target` for every case under `cohort_root` (laid out like `site`) into `out_dir`."""
    target = canonical_modality(target)
    scale = output_scale_description(trained_site(trained, site), target, intensity_range)
    cohort = site.model_copy(update={"root": Path(cohort_root)})
    sources, problems = discover_cases(cohort)
    summary = CohortSummary(failed=list(problems))
    bar = tqdm(sources, desc=f"synthesize {target}", unit="case", disable=not progress)

    for source in bar:
        out = cohort_output(out_dir, source.case_id, target)
        if target in source.files:
            summary.acquired.append(source.case_id)
            continue
        if finished_output(out, trained, target, scale):
            summary.reused.append(out)
            continue
        refusal = trained.case_refusal(sorted(source.files), [target])
        if refusal:  # checked before the case is read: a pix2pix model without its sources here
            summary.failed.append((source.case_id, refusal))
            (bar.write if progress else log)(f"skipped {source.case_id}: {refusal}")
            continue
        try:
            record = load_case(source, cohort)
            summary.written.append(synthesize_record(trained, site, record, target, out, batch_size,
                                                         intensity_range))
        except CaseError as exc:
            summary.failed.append((source.case_id, str(exc)))
            (bar.write if progress else log)(f"skipped {source.case_id}: {exc}")  # above the bar, not through it
    bar.close()
    return summary
