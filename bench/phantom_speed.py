"""Seconds per phantom case at full (native) size and at test size, per site, and to write it.

The issue's budget is about 10 s per full-size case on 2 cores. The template maps are loaded once
per process, as `pmm phantom` does: reported apart, both built and read from the user's cache.
Writing a case's NIfTI files is timed at the gzip level pmm writes (1, nibabel's default) and at
level 9 (Python's gzip default, used before), on the same volumes, with the megabytes each writes.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import write_results
from pmm_core.phantom.anatomy import build_template_maps, template_maps
from pmm_core.phantom.federation import GZIP_LEVEL, write_nifti
from pmm_core.phantom.generator import CaseSynthesizer
from pmm_core.phantom.sites import SITES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2, help="cases timed per site and size")
    args = parser.parse_args(argv)
    print(f"phantom_speed: seconds per case, {args.cases} case(s) per site, full and test size")
    rows, loads = [], {}
    start = time.perf_counter()
    import nilearn.datasets  # noqa: F401  (what a process without cached maps pays first)
    nilearn_import_s = round(time.perf_counter() - start, 2)
    for size, resolution in (("full", 1), ("test", 2)):
        start = time.perf_counter()
        build_template_maps(resolution)
        built = time.perf_counter() - start
        template_maps.__wrapped__(resolution)  # stored in the user's cache, if it was not already
        start = time.perf_counter()
        template_maps(resolution)
        loads[size] = {"built_s": round(built, 2), "read_from_cache_s": round(time.perf_counter() - start, 2)}
        for site in SITES:
            rng = np.random.default_rng([0, site.dataset_id])
            start = time.perf_counter()
            cases = [CaseSynthesizer(site, resolution, size == "test", rng).make(f"c{index}", site.modalities)
                     for index in range(args.cases)]
            seconds = (time.perf_counter() - start) / args.cases
            writes = {level: write_seconds_and_mb(cases, level) for level in (GZIP_LEVEL, 9)}
            rows.append({"site": site.name, "size": size, "seconds_per_case": round(seconds, 2),
                         "write_s_per_case": writes[GZIP_LEVEL][0], "write_mb_per_case": writes[GZIP_LEVEL][1],
                         "write_level9_s_per_case": writes[9][0], "write_level9_mb_per_case": writes[9][1]})
            print(f"{size:4s} {site.name:5s}: {seconds:6.2f} s/case; write {writes[GZIP_LEVEL][0]} s "
                  f"(level 9: {writes[9][0]} s)")
    full = [r["seconds_per_case"] for r in rows if r["size"] == "full"]
    test = [r["seconds_per_case"] for r in rows if r["size"] == "test"]
    ratio = sum(full) / sum(test)
    print(f"template maps: import nilearn.datasets {nilearn_import_s} s, then built / read from the cache: "
          + ", ".join(f"{size} {v['built_s']} / {v['read_from_cache_s']} s" for size, v in loads.items())
          + f"; full/test time ratio {ratio:.1f}x")
    table = ["| site | size | s/case | write s/case (gzip 1) | MB | write s/case (gzip 9) | MB | write time 9/1 |",
             "|---|---|---|---|---|---|---|---|"]
    table += [f"| {r['site']} | {r['size']} | {r['seconds_per_case']} | {r['write_s_per_case']} | {r['write_mb_per_case']} | "
              f"{r['write_level9_s_per_case']} | {r['write_level9_mb_per_case']} | "
              f"{r['write_level9_s_per_case'] / max(r['write_s_per_case'], 1e-3):.1f}x |" for r in rows]
    table += ["", f"Template maps per process: `import nilearn.datasets` {nilearn_import_s} s, then built "
              + ", ".join(f"{size} {v['built_s']} s" for size, v in loads.items()) + "; read from the user's cache "
              + ", ".join(f"{size} {v['read_from_cache_s']} s" for size, v in loads.items())
              + " (no nilearn import)."]
    write_results("phantom_speed", {"config": vars(args), "rows": rows, "template_load_s": loads,
                                    "nilearn_import_s": nilearn_import_s, "full_over_test": round(ratio, 1)}, table)


def write_seconds_and_mb(cases: list, level: int) -> tuple[float, float]:
    """Seconds and megabytes per case to write every volume and the label as .nii.gz at gzip `level`."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for index, case in enumerate(cases):
            labelled = {"label": case.label} if case.label is not None else {}
            for name, volume in {**case.images, **labelled}.items():
                write_nifti(volume, Path(tmp) / f"{index}_{name}.nii.gz", compresslevel=level)
        seconds = (time.perf_counter() - start) / len(cases)
        megabytes = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 1e6 / len(cases)
    return round(seconds, 2), round(megabytes, 1)


if __name__ == "__main__":
    main()
