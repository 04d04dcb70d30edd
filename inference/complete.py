"""`pmm complete`: a completed copy of a site, every missing sequence synthesized, in the site's own layout.

A segmentation model trained on BraTS wants `<case>_t1ce.nii.gz` beside the other three; an
ISLES'22 pipeline wants `sub-…_ses-…_dwi.nii.gz` in `dwi/`. So the completed folder mirrors the
site: every real file of every case is linked (or copied), never rewritten, and each modality
a case lacks is written where the layout puts it (`pmm_core.data.readers.native_names`), on the
case's reference grid and affine, in the site's scanner scale unless `unit` is asked for.

Labelled synthetic three times over: the NIfTI header description (or, for DICOM, ImageType,
SeriesDescription and DerivationDescription), a BIDS-style sidecar beside every synthesized
file, and `pmm_completion.json` at the top listing every synthesized file with its sources.

One process loads the model once; each case is preprocessed once for all its targets. A case
that fails (unreadable, cannot be aligned) is reported and leaves nothing in the output; the
others are completed. A case whose outputs were finished by the same checkpoint in the same
scale is skipped, so an interrupted run continues where it stopped. Every file is written
atomically; `pmm_completion.json` is written last, so its presence means the run ended.
"""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ConfigDict, field_validator
from tqdm.auto import tqdm

from pmm.inference.labelling import (checkpoint_sha256, finished_output, model_provenance, pmm_version,
                                     sidecar_path)
from pmm.inference.model_loading import TrainedModel
from pmm.inference.synthesize import (OutputFormat, model_inputs, output_scale_description, synthesize_target,
                                    trained_site, write_synthesis)
from pmm_core.atomic import link_file
from pmm_core.config.site import SiteConfig
from pmm_core.data.case import CaseFiles
from pmm_core.data.cache import write_json_atomic
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.intensity import OutputRange
from pmm_core.data.readers import discover_cases, load_case
from pmm_core.data.readers.native_names import native_path
from pmm_core.errors import CaseError, PmmError
from pmm_core.modalities import MODALITIES, canonical_modality

MANIFEST = "pmm_completion.json"


class CompletionOptions(BaseModel):
    """What to complete and how to write it."""

    model_config = ConfigDict(frozen=True)

    targets: list[str] | None = None         # default: every modality of the site the model can synthesize
    split: str | None = None                  # only the cases of this split of the model's training data
    cohort: Path | None = None                # a folder laid out like the site (default: the site's root)
    out_format: OutputFormat = "nifti"
    intensity_range: OutputRange = "scanner"
    copy_files: bool = False                  # copy the real files instead of linking them
    batch_size: int = 16

    @field_validator("targets")
    @classmethod
    def _canonical(cls, targets: list[str] | None) -> list[str] | None:
        return None if targets is None else [canonical_modality(t) for t in targets]


@dataclass
class CompletionSummary:
    out: Path
    completed: list[str] = field(default_factory=list)       # cases with files synthesized in this run
    finished: list[str] = field(default_factory=list)        # cases completed by an earlier run
    complete: list[str] = field(default_factory=list)        # cases that lacked nothing
    failed: list[tuple[str, str]] = field(default_factory=list)
    synthesized: list[dict] = field(default_factory=list)    # the manifest's entries
    written: int = 0

    def lines(self) -> list[str]:
        cases = len(self.completed) + len(self.finished) + len(self.complete) + len(self.failed)
        lines = [f"{cases} cases: {len(self.completed)} completed now ({self.written} files synthesized), "
                 f"{len(self.finished)} finished earlier, {len(self.complete)} lacked nothing, {len(self.failed)} failed",
                 f"completed site in {self.out} ({len(self.synthesized)} synthesized files listed in {MANIFEST})"]
        lines += [f"  failed {case_id}: {reason}" for case_id, reason in self.failed]
        return lines


def completion_targets(trained: TrainedModel, site: SiteConfig, asked: list[str] | None) -> list[str]:
    """The modalities to fill: those asked, or the site's that the model was trained to synthesize."""
    known = {m for s in trained.sites for m in s.modalities}
    only = trained.method.synthesizes(trained.options)
    known = known if only is None else known & set(only)
    if asked is None:
        return [m for m in MODALITIES if m in site.modalities and m in known]
    unknown = [m for m in asked if m not in known]
    if unknown:
        raise PmmError(f"--targets {','.join(unknown)}: {trained.path} was never trained to synthesize "
                       f"{','.join(unknown)} (it synthesizes {','.join(m for m in MODALITIES if m in known)})")
    return [m for m in MODALITIES if m in asked]


def _check_destination(out: Path, root: Path) -> None:
    out, root = Path(out).resolve(), Path(root).resolve()
    if out == root or root in out.parents or out in root.parents:
        raise PmmError(f"--out {out}: the completed copy must be a folder outside the site's data ({root}), "
                       "which pmm never writes into")


def _selected(sources: list[CaseFiles], trained: TrainedModel, site: SiteConfig, split: str | None) -> list[CaseFiles]:
    if split is None:
        return sources
    known = trained_site(trained, site)
    if known.site_dir is None:
        raise PmmError(f"--split {split}: {trained.path} is an exported package, which keeps no case ids of its "
                       "training sites; complete the whole site (drop --split) or use the run's checkpoint")
    fingerprint = load_fingerprint(Path(known.site_dir))
    known.refuse_seen_cases(fingerprint, split, trained.path)
    wanted = set(fingerprint.split_cases(split))
    return [s for s in sources if s.case_id in wanted]


def _site_level_files(root: Path, sources: list[CaseFiles]) -> list[Path]:
    """Files beside the cases (dataset_description.json, participants.tsv): those directly in the
    root or in a folder between the root and a case folder, never inside a case."""
    folders = {root}
    for source in sources:
        for folder in source.folders:
            folders.update(p for p in folder.parents if root in p.parents or p == root)
    case_folders = {f for s in sources for f in s.folders}
    return sorted(f for folder in folders - case_folders for f in folder.iterdir()
                  if f.is_file() and not f.name.startswith("."))


def case_files(source: CaseFiles) -> list[Path]:
    """Every (non-hidden) file in the case's folders: images, labels, sidecars, DICOM slices."""
    return sorted(f for folder in source.folders for f in folder.rglob("*")
                  if f.is_file() and not any(part.startswith(".") for part in f.relative_to(folder).parts))


def complete_site(trained: TrainedModel, site: SiteConfig, out: Path, options: CompletionOptions = CompletionOptions(),
                  progress: bool = True, log: Callable[[str], None] = print) -> CompletionSummary:
    """Write the completed copy of `site` (or of `options.cohort`, laid out like it) into `out`."""
    known = trained_site(trained, site)
    targets = completion_targets(trained, site, options.targets)
    dicom = options.out_format == "dicom"
    if dicom and site.layout != "generic":
        raise PmmError(f"--out-format dicom: site {site.name}'s {site.layout} layout is NIfTI by definition; "
                       "DICOM series are read and written for generic sites (one folder per series)")
    root = Path(options.cohort or site.root)
    _check_destination(out, root)
    source_site = site.model_copy(update={"root": root})
    sources, problems = discover_cases(source_site)
    sources = _selected(sources, trained, site, options.split)
    scales = {t: output_scale_description(known, t, options.intensity_range) for t in targets}
    summary = CompletionSummary(out=Path(out), failed=list(problems))
    place = lambda path: Path(out) / path.relative_to(root)  # noqa: E731  a path of the source tree in the copy

    bar = tqdm(sources, desc=f"complete {site.name}", unit="case", disable=not progress)
    for source in bar:
        try:
            missing = {t: place(native_path(source_site, source, t, dicom)) for t in targets if t not in source.files}
        except (CaseError, PmmError) as exc:
            summary.failed.append((source.case_id, str(exc)))
            continue
        if not missing:
            summary.complete.append(source.case_id)
        elif all(finished_output(path, trained, t, scales[t]) for t, path in missing.items()):
            summary.finished.append(source.case_id)
            summary.synthesized += _entries(source.case_id, missing, Path(out))
            continue
        refusal = trained.case_refusal(sorted(source.files), list(missing))
        if refusal:  # a pix2pix model lacks its task's sources in this case: that case's failure
            summary.failed.append((source.case_id, refusal))
            (bar.write if progress else log)(f"skipped {source.case_id}: {refusal}")
            continue
        try:
            syntheses = []
            if missing:  # everything that can fail runs before anything of the case is written
                inputs = model_inputs(trained, site, load_case(source, source_site))
                syntheses = [synthesize_target(trained, inputs, t, options.batch_size, options.intensity_range)
                             for t in missing]
        except CaseError as exc:
            summary.failed.append((source.case_id, str(exc)))
            (bar.write if progress else log)(f"skipped {source.case_id}: {exc}")
            continue
        for real in case_files(source):
            link_file(real, place(real), options.copy_files)
        for synthesis in syntheses:
            write_synthesis(synthesis, trained, site, missing[synthesis.target], options.out_format)
        if missing:
            summary.completed.append(source.case_id)
            summary.written += len(syntheses)
            summary.synthesized += _entries(source.case_id, missing, Path(out))
    bar.close()
    for shared in _site_level_files(root, sources):
        link_file(shared, place(shared), options.copy_files)
    write_json_atomic(Path(out) / MANIFEST, _manifest(trained, site, root, options, targets, scales, summary))
    return summary


def _entries(case_id: str, missing: dict[str, Path], out: Path) -> list[dict]:
    entries = []
    for target, path in missing.items():
        label = json.loads(sidecar_path(path).read_text())
        entries.append({"Case": case_id, "Path": str(path.relative_to(out)), "Modality": target,
                        "SourceModalities": label["SourceModalities"],
                        "Sidecar": str(sidecar_path(path).relative_to(out))})
    return entries


def _manifest(trained: TrainedModel, site: SiteConfig, root: Path, options: CompletionOptions, targets: list[str],
              scales: dict[str, str], summary: CompletionSummary) -> dict:
    return {
        "Synthetic": "every file listed under SynthesizedFiles is synthesized by pmm, not acquired; "
                     "all other files are links to (or copies of) the site's real files",
        "Site": site.name, "Layout": site.layout, "Source": str(root.resolve()),
        "Checkpoint": str(Path(trained.path).resolve()), "CheckpointSHA256": checkpoint_sha256(Path(trained.path).resolve()),
        **model_provenance(trained), "GeneratedBy": [{"Name": "pmm", "Version": pmm_version()}],
        "Date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "Targets": targets, "Split": options.split, "OutFormat": options.out_format,
        "IntensityScale": scales, "RealFiles": "copied" if options.copy_files else "symbolic links",
        "SynthesizedFiles": summary.synthesized,
        "Failed": [{"Case": case_id, "Reason": reason} for case_id, reason in summary.failed],
    }

