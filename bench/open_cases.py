"""What bounding the open memory maps costs: MCBS loader slices/s over many cases with the
dataset's bounded set of open cases (`OPEN_CASES`, least recently used closed first) against
every case it has read kept open (before), and the file descriptors each leaves open.

A map holds a file descriptor, so keeping every case open needs 2-3 per case: 2,500-3,750 for
BraTS 2021's 1,251 cases, past the 1,024 of a default Linux login. The cache is
bench/synthetic_cache.py's (pmm's own cache writer), one site of many small cases, so a batch
of 16 draws from 16 different cases and the bounded set is re-opened all the time: the worst
case for it.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pmm_core.data.dataset as dataset_module
from bench.common import write_results
from bench.data_throughput import measure
from bench.synthetic_cache import write_cache
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.samplers import MCBSBatchSampler

UNBOUNDED = 10 ** 9


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def run(size: int, cases: int, slices: int, max_slices: int, workers: list[int]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        site_dirs = write_cache(Path(folder), size, cases, slices, only=("BraTS",))
        for bound in (dataset_module.OPEN_CASES, UNBOUNDED):
            for count in workers:
                dataset_module.OPEN_CASES = bound
                dataset = SliceDataset(site_dirs, split=None, min_brain_fraction=0.0)
                before = open_descriptors()
                rate, startup, delivered = measure(dataset, MCBSBatchSampler(dataset.group_keys(), 16, seed=0),
                                                   count, max_slices)
                held = open_descriptors() - before if count == 0 else None  # workers hold theirs elsewhere
                label = "all read cases (before)" if bound == UNBOUNDED else f"{bound} most recent"
                rows.append({"open_cases": label, "workers": count, "slices_per_s": round(rate, 1),
                             "slices": delivered, "descriptors_held": held})
                print(f"open: {label:24s} workers {count}: {rate:8.1f} slices/s"
                      + (f", {held} descriptors held" if held is not None else ""))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--slices", type=int, default=4, help="slices per case")
    parser.add_argument("--max-slices", type=int, default=4000, help="slices timed per measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args(argv)
    bound = dataset_module.OPEN_CASES
    print(f"open_cases: {args.cases} cases x {args.slices} slices at {args.size}x{args.size}, MCBS batch 16, "
          f"{bound} open cases against all")
    try:
        rows = run(args.size, args.cases, args.slices, args.max_slices, args.workers)
    finally:
        dataset_module.OPEN_CASES = bound
    table = ["| open cases | workers | slices/s | descriptors held (0 workers) |", "|---|---|---|---|"]
    table += [f"| {r['open_cases']} | {r['workers']} | {r['slices_per_s']} | "
              f"{'' if r['descriptors_held'] is None else r['descriptors_held']} |" for r in rows]
    ratios = {}
    for count in args.workers:
        by = {r["open_cases"].startswith("all"): r["slices_per_s"] for r in rows if r["workers"] == count}
        ratios[f"bounded_over_all_workers{count}"] = round(by[False] / by[True], 2)
        print(f"workers {count}: bounded / all open = {ratios[f'bounded_over_all_workers{count}']:.2f}x")
    write_results("open_cases", {"config": vars(args), "bound": bound, "rows": rows, **ratios}, table)


if __name__ == "__main__":
    main()
