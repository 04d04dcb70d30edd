"""Reading slices without holding files open: MCBS loader slices/s and the file descriptors left
open, for pmm's reader (each slice: open, pread, close; `pmm_core.data.slice_reader`) against
every array memory-mapped once and kept open (pmm before: one descriptor per map for the life
of the process) and against a bounded set of the 64 most recent maps.

The cache is bench/synthetic_cache.py's (pmm's own cache writer), one site of many small cases,
so a batch of 16 draws from 16 different cases: the worst case for anything that caches per case.
"""
from __future__ import annotations

import os
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from bench.common import many_cases_arguments, write_results
from bench.data_throughput import measure
from bench.synthetic_cache import write_cache
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.samplers import MCBSBatchSampler


class MappedReader:
    """The alternatives: arrays memory-mapped on first use and kept (at most `bound`, least
    recently used closed first); each open map holds a file descriptor."""

    def __init__(self, bound: int | None):
        self.bound, self.maps = bound, OrderedDict()

    def read(self, path: Path, index: int) -> np.ndarray:
        if path in self.maps:
            self.maps.move_to_end(path)
        else:
            self.maps[path] = np.load(path, mmap_mode="r")
            if self.bound is not None and len(self.maps) > self.bound:
                self.maps.popitem(last=False)
        return np.asarray(self.maps[path][index])


READERS = {"pread per slice (pmm)": lambda: None, "all maps kept open (before)": lambda: MappedReader(None),
           "64 most recent maps": lambda: MappedReader(64)}


def run(size: int, cases: int, slices: int, max_slices: int, workers: list[int]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        site_dirs = write_cache(Path(folder), size, cases, slices, only=("BraTS",))
        for name, make in READERS.items():
            for count in workers:
                dataset = SliceDataset(site_dirs, split=None, min_brain_fraction=0.0)
                if (reader := make()) is not None:
                    dataset._reader = reader   # the one place a slice is read: swapped for the alternative
                before = len(os.listdir("/proc/self/fd"))
                rate, _, delivered = measure(dataset, MCBSBatchSampler(dataset.group_keys(), 16, seed=0), count,
                                             max_slices)
                held = len(os.listdir("/proc/self/fd")) - before if count == 0 else None
                rows.append({"reader": name, "workers": count, "slices_per_s": round(rate, 1), "slices": delivered,
                             "descriptors_held": held})
                print(f"{name:28s} workers {count}: {rate:8.1f} slices/s"
                      + (f", {held} descriptors left open" if held is not None else ""))
                del dataset
    return rows


def main(argv: list[str] | None = None) -> None:
    args = many_cases_arguments(__doc__.splitlines()[0]).parse_args(argv)
    print(f"open_cases: {args.cases} cases x {args.slices} slices at {args.size}x{args.size}, MCBS batch 16")
    rows = run(args.size, args.cases, args.slices, args.max_slices, args.workers)
    table = ["| reader | workers | slices/s | descriptors left open (0 workers) |", "|---|---|---|---|"]
    table += [f"| {r['reader']} | {r['workers']} | {r['slices_per_s']} | "
              f"{'' if r['descriptors_held'] is None else r['descriptors_held']} |" for r in rows]
    ratios = {}
    for count in args.workers:
        by = {r["reader"]: r["slices_per_s"] for r in rows if r["workers"] == count}
        ratios[f"pmm_over_all_open_workers{count}"] = round(by["pread per slice (pmm)"] /
                                                            by["all maps kept open (before)"], 2)
        print(f"workers {count}: pread / all maps open = {ratios[f'pmm_over_all_open_workers{count}']:.2f}x")
    write_results("open_cases", {"config": vars(args), "rows": rows, **ratios}, table)


if __name__ == "__main__":
    main()
