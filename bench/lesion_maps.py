"""What pmm's default recipe costs the data path: the lesion maps the lesion-weighted L1 reads with
every slice (`[pathology] lesion_weight`, pooled or `balanced` per compartment) and the startup
scan that finds the slices oversampling favours (`SliceDataset.pathology_flags`).

MCBS loader slices/s without lesion maps (the paper's recipe), with pooled maps (the default) and
with balanced ones, on bench/synthetic_cache.py's cache with a BraTS-style label per case, plus
the seconds each dataset takes to build and the flags' scan. Sized like open_cases: many small
cases, so every batch reads 16 different cases' files.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import many_cases_arguments, write_results
from bench.data_throughput import measure
from bench.synthetic_cache import write_cache
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.samplers import MCBSBatchSampler

VARIANTS = {"no lesion maps (paper)": (False, "pooled"), "pooled maps (default)": (True, "pooled"),
            "balanced maps": (True, "balanced")}


def run(size: int, cases: int, slices: int, max_slices: int, workers: list[int]) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        site_dirs = write_cache(Path(folder), size, cases, slices, only=("BraTS",), labels=True)
        for name, (maps, rule) in VARIANTS.items():
            for count in workers:
                started = time.perf_counter()
                dataset = SliceDataset(site_dirs, split=None, min_brain_fraction=0.0, lesion_maps=maps,
                                       compartments=rule)
                built = time.perf_counter() - started
                rate, _, delivered = measure(dataset, MCBSBatchSampler(dataset.group_keys(), 16, seed=0), count,
                                             max_slices)
                rows.append({"variant": name, "workers": count, "slices_per_s": round(rate, 1), "slices": delivered,
                             "build_s": round(built, 3)})
                print(f"{name:24s} workers {count}: {rate:8.1f} slices/s, built in {built:.2f} s")
        started = time.perf_counter()
        flagged = SliceDataset(site_dirs, split=None, min_brain_fraction=0.0).pathology_flags()
        scan = time.perf_counter() - started
    return {"rows": rows, "flags_scan_s": round(scan, 3), "flagged_fraction": round(float(flagged.mean()), 3)}


def main(argv: list[str] | None = None) -> None:
    args = many_cases_arguments(__doc__.splitlines()[0]).parse_args(argv)
    print(f"lesion_maps: {args.cases} labelled cases x {args.slices} slices at {args.size}x{args.size}, MCBS batch 16")
    result = run(args.size, args.cases, args.slices, args.max_slices, args.workers)
    base = {r["workers"]: r["slices_per_s"] for r in result["rows"] if r["variant"].startswith("no lesion")}
    table = ["| data path | workers | slices/s | vs paper | dataset built in (s) |", "|---|---|---|---|---|"]
    table += [f"| {r['variant']} | {r['workers']} | {r['slices_per_s']} | {r['slices_per_s'] / base[r['workers']]:.2f}x "
              f"| {r['build_s']} |" for r in result["rows"]]
    table += ["", f"Oversampling's pathology scan of {args.cases} cases: {result['flags_scan_s']} s "
              f"({result['flagged_fraction']:.0%} of slices flagged).", "",
              f"Command: `python -m bench lesion_maps` ({args.cases} cases x {args.slices} slices, {args.size}x{args.size})."]
    write_results("lesion_maps", vars(args) | result, table)


if __name__ == "__main__":
    main()
