"""Preparation at native size: seconds per stage and case, old against new registration, error in mm.

For each phantom site (`--size full`: 0.45-2 mm in-plane, 112-512 matrices, thick oblique slices,
every modality moved a few mm) one case per site is written as NIfTI, then timed through pmm's
own path: read, register, skull-strip (or head mask), resample, measure intensities, write the cache. The
registration error is the mean distance, over the phantom's true brain, between the estimated
and the known fixed→moving mapping. The earlier registration settings (`legacy_registration`)
are timed on the same pairs in the same run, so the ratio compares like with like. A map computed
from another series (ADC from DWI) takes that series' transform; its pair shows, beside it, the
time and error of registering it alone, as pmm did before, and how far that put it from its source.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from bench.common import write_results
from bench.legacy_registration import legacy_register_rigid
from pmm_core.config.site import PreprocessOptions
from pmm_core.data.cache import write_case
from pmm_core.data.case import CaseImages
from pmm_core.data.nifti_io import read_volume
from pmm_core.data.preprocess.grid import reorient_axial
from pmm_core.data.preprocess.pipeline import StageTimes, derived_source, preprocess_case
from pmm_core.data.preprocess.registration import register_rigid
from pmm_core.phantom.federation import write_nifti
from pmm_core.phantom.generator import CaseSynthesizer, PhantomCase
from pmm_core.phantom.sites import SITES, PhantomSite
from pmm_core.phantom.truth import brain_points, registration_error_mm, transforms_apart_mm

STAGES = ("read", "register", "skull_strip", "head_mask", "resample", "intensity", "write")


def write_phantom_case(site: PhantomSite, folder: Path, full: bool) -> tuple[PhantomCase, dict[str, Path]]:
    rng = np.random.default_rng([0, site.dataset_id])
    case = CaseSynthesizer(site, 1 if full else 2, not full, rng).make(site.name, site.modalities)
    files = {m: folder / f"{site.name}_{m}.nii.gz" for m in case.images}
    for modality, path in files.items():
        write_nifti(case.images[modality], path)
    return case, files


def time_case(site: PhantomSite, files: dict[str, Path], cache: Path, layout: str) -> tuple[StageTimes, object]:
    times = StageTimes()
    with times.stage("read"):
        record = CaseImages(site.name, {m: read_volume(p) for m, p in files.items()}, files=dict(files))
    options = PreprocessOptions().resolved(layout)
    prepared = preprocess_case(record, options, times)
    with times.stage("write"):
        write_case(cache, prepared, "bench")
    return times, (record, prepared)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("full", "test"), default="full", help="phantom size (default: native)")
    parser.add_argument("--legacy-pairs", type=int, default=1,
                        help="pairs per registered site also timed with the old settings (each takes about a minute)")
    parser.add_argument("--sites", nargs="+", default=[s.name for s in SITES], choices=[s.name for s in SITES],
                        help="phantom sites to time (default: all four)")
    args = parser.parse_args(argv)
    print(f"prepare_speed: one {args.size}-size phantom case per site through pmm's preparation; "
          f"old vs new registration on {args.legacy_pairs} pair(s) per registered site")
    rows, pairs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for site in (s for s in SITES if s.name in args.sites):
            folder = Path(tmp) / site.name
            case, files = write_phantom_case(site, folder, args.size == "full")
            times, (record, prepared) = time_case(site, files, Path(tmp) / "cache", site.layout)
            total = sum(times.values())
            sizes = ", ".join(f"{m} {'x'.join(map(str, record.images[m].GetSize()))}" for m in record.modalities)
            rows.append({"site": site.name, "modalities": len(files), "sizes": sizes, "total_s": round(total, 2),
                         **{stage: round(times.get(stage, 0.0), 2) for stage in STAGES}})
            print(f"{site.name:5s} {total:6.1f} s/case  " + "  ".join(f"{s} {times.get(s, 0.0):.1f}" for s in STAGES))
            if site.coregistered:
                continue
            points = brain_points(case)
            fixed_image = reorient_axial(record.images[prepared.reference])
            for index, modality in enumerate(m for m in prepared.modalities if m != prepared.reference):
                pair = {"site": site.name, "pair": f"{modality}->{prepared.reference}",
                        "moving": "x".join(map(str, record.images[modality].GetSize())),
                        "fixed": "x".join(map(str, record.images[prepared.reference].GetSize())),
                        "identity_error_mm": round(registration_error_mm(
                            sitk.Euler3DTransform(), case, prepared.reference, modality, points), 2),
                        "new_error_mm": round(registration_error_mm(
                            prepared.transform(modality), case, prepared.reference, modality, points), 2)}
                start = time.perf_counter()
                alone = register_rigid(fixed_image, record.images[modality])
                seconds = round(time.perf_counter() - start, 2)
                source = derived_source(record, modality)
                if source is not None:  # takes its source's transform: no registration of its own
                    pair |= {"new_s": 0.0, "shared_with": source, "alone_s": seconds, "alone_error_mm": round(
                        registration_error_mm(alone, case, prepared.reference, modality, points), 2),
                        "alone_apart_mm": round(transforms_apart_mm(
                            alone, prepared.transform(source), case, prepared.reference, points), 2)}
                else:
                    pair["new_s"] = seconds
                if index < args.legacy_pairs and source is None:
                    start = time.perf_counter()
                    legacy = legacy_register_rigid(fixed_image, record.images[modality])
                    pair["old_s"] = round(time.perf_counter() - start, 2)
                    pair["old_error_mm"] = round(registration_error_mm(
                        legacy, case, prepared.reference, modality, points), 2)
                    pair["speedup"] = round(pair["old_s"] / pair["new_s"], 1)
                pairs.append(pair)
                print(f"  {site.name} {pair['pair']:13s} {pair['moving']:>10s} onto {pair['fixed']:>10s}: new "
                      f"{pair['new_s']:5.1f} s {pair['new_error_mm']:.2f} mm"
                      + (f" | old {pair['old_s']:6.1f} s {pair['old_error_mm']:.2f} mm | {pair['speedup']}x"
                         if "old_s" in pair else "")
                      + (f" | {source}'s transform; registered alone {pair['alone_s']:.1f} s {pair['alone_error_mm']:.2f} mm,"
                         f" {pair['alone_apart_mm']:.2f} mm off {source}" if source is not None else "") + f" | unregistered {pair['identity_error_mm']:.2f} mm")
    errors = [p["new_error_mm"] for p in pairs]
    timed = [p for p in pairs if "old_s" in p]
    summary = {"mean_new_error_mm": round(float(np.mean(errors)), 2) if errors else None,
               "max_new_error_mm": max(errors) if errors else None,
               "max_new_seconds_per_pair": max(p["new_s"] for p in pairs) if pairs else None,
               "old_over_new_time": round(sum(p["old_s"] for p in timed) / sum(p["new_s"] for p in timed), 1)
               if timed else None,
               "max_seconds_per_case": max(r["total_s"] for r in rows)}
    table = ["| site | modalities | total s/case | " + " | ".join(STAGES) + " |", "|---|---|---|" + "---|" * len(STAGES)]
    table += [f"| {r['site']} | {r['modalities']} | {r['total_s']} | " + " | ".join(str(r[s]) for s in STAGES) + " |"
              for r in rows]
    table += ["", "| pair | moving | fixed | new s | new mm | old s | old mm | speed-up | registered alone s / mm / mm off source "
                  "| unregistered mm |", "|---|---|---|---|---|---|---|---|---|---|"]
    table += [f"| {p['site']} {p['pair']} | {p['moving']} | {p['fixed']} | "
              + (f"{p['shared_with']}'s" if "shared_with" in p else str(p["new_s"])) + f" | {p['new_error_mm']} | "
              f"{p.get('old_s', '')} | {p.get('old_error_mm', '')} | {p.get('speedup', '')} | "
              + (f"{p['alone_s']} / {p['alone_error_mm']} / {p['alone_apart_mm']}" if "alone_s" in p else "") + f" | {p['identity_error_mm']} |"
              for p in pairs]
    table += ["", f"mean registration error {summary['mean_new_error_mm']} mm (max {summary['max_new_error_mm']}), "
                  f"slowest pair {summary['max_new_seconds_per_pair']} s, old/new time "
                  + (f"{summary['old_over_new_time']}x, " if timed else "not measured (--legacy-pairs 0), ") +
                  f"slowest case {summary['max_seconds_per_case']} s"]
    write_results("prepare_speed", {"config": vars(args), "rows": rows, "pairs": pairs, "summary": summary}, table)


if __name__ == "__main__":
    main()
