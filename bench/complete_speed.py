"""`pmm complete` at native size: NIfTI against DICOM, in and out, on the same patients.

The same full-size TTG phantom patients (six series, 192-512 matrices, thick oblique slices) are
written twice, once as NIfTI files and once as DICOM series folders (one file per slice, as a
scanner exports them), each with one series (FLAIR by default) removed. Two real `pmm complete`
runs fill them: NIfTI site to NIfTI files, DICOM site to DICOM series (a DICOM site's globs name
series folders, so its completed copy holds series folders too). Reading
alone is timed too (every series of one patient, NIfTI file against DICOM folder: pydicom
header checks plus SimpleITK's series reader), so the DICOM cost is seen where it arises. The
model is the paper's size (untrained weights: speed does not depend on them) unless `--model small`.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import write_results
from bench.synthesize_speed import run, write_checkpoint, write_cohort
from pmm_core.data.nifti_io import read_volume

WAYS = (("nifti", "nifti"), ("dicom", "dicom"))


def read_seconds(case: Path, repeats: int = 3) -> float:
    """Seconds to read every series of one patient (best of `repeats`, so the disk cache is warm for both)."""
    series = sorted(p for p in case.iterdir() if not p.name.endswith("_seg.nii.gz"))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for path in series:
            read_volume(path)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2, help="full-size patients completed each way")
    parser.add_argument("--model", choices=("paper", "small"), default="paper")
    parser.add_argument("--target", default="FLAIR")
    parser.add_argument("--size", choices=("full", "test"), default="full", help="phantom size (default: native)")
    args = parser.parse_args(argv)
    print(f"complete_speed: {args.patients} {args.size}-size TTG patients, {args.model} model, target {args.target}; "
          "pmm complete from NIfTI and from DICOM series, to NIfTI and to DICOM")
    rows, reads = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        parameters = write_checkpoint(root / "model.pt", args.model)
        tomls = {}
        for source in ("nifti", "dicom"):
            tomls[source] = write_cohort(root / source, args.patients, args.target, args.size == "full",
                                         dicom=source == "dicom")
            reads[source] = round(read_seconds(root / source / "TTG" / "TTG_001"), 2)
            print(f"read one patient's series from {source}: {reads[source]} s")
        for source, out_format in WAYS:
            out = root / "completed" / f"{source}-to-{out_format}"
            seconds = run("complete", "--checkpoint", str(root / "model.pt"), "--site", str(tomls[source]),
                          "--targets", args.target, "--out", str(out), "--out-format", out_format, "--quiet")
            rows.append({"source": source, "out_format": out_format, "seconds": round(seconds, 1),
                         "s_per_patient": round(seconds / args.patients, 1)})
            print(f"{source} site -> {out_format}: {seconds:.1f} s ({seconds / args.patients:.1f} s/patient)")
    base = rows[0]["seconds"]
    for row in rows:
        row["over_nifti"] = round(row["seconds"] / base, 2)
    read_ratio = round(reads["dicom"] / reads["nifti"], 2)
    table = ["| source | output | s/patient | over NIfTI to NIfTI |", "|---|---|---|---|",
             *(f"| {r['source']} | {r['out_format']} | {r['s_per_patient']} | {r['over_nifti']}x |" for r in rows),
             "", f"{args.model} model ({parameters:,} parameters), {args.patients} {args.size}-size TTG patients, "
             f"target {args.target}. Reading one patient's {args.size}-size series: NIfTI {reads['nifti']} s, "
             f"DICOM {reads['dicom']} s ({read_ratio}x)."]
    write_results("complete_speed", {"config": vars(args), "parameters": parameters, "rows": rows,
                                     "read_s": reads, "dicom_over_nifti_read": read_ratio}, table)


if __name__ == "__main__":
    main()
