"""Slices/s delivered by SliceDataset + sampler + DataLoader, at 192x192 and at the test size.

The cache is bench/synthetic_cache.py's (pmm's own cache writer, random brain-shaped slices),
so the benchmark measures exactly the read path training uses:
memory-mapped float16 slices, zero-filling of missing channels, collation, worker processes.
It compares 0 and 2 DataLoader workers, MCBS (batch 16) and the naive sampler (batch 1).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from torch.utils.data import DataLoader

from bench.common import write_results
from bench.synthetic_cache import write_cache
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.samplers import MCBSBatchSampler, NaiveBatchSampler

def measure(dataset: SliceDataset, sampler, workers: int, max_slices: int) -> tuple[float, float, int]:
    """(steady-state slices/s, start-up seconds, slices timed): start-up (worker processes, first
    batch) is reported apart because training pays it once, not per slice."""
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=workers, persistent_workers=workers > 0)
    begin = time.perf_counter()
    epoch, iterator = 0, iter(loader)
    next(iterator)
    startup = time.perf_counter() - begin
    delivered, start = 0, time.perf_counter()
    while delivered < max_slices:
        try:
            delivered += next(iterator).image.shape[0]
        except StopIteration:
            epoch += 1
            sampler.set_epoch(epoch)
            iterator = iter(loader)
    return delivered / (time.perf_counter() - start), startup, delivered


def run(sizes: list[int], cases: int, slices: int, max_slices: int) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            site_dirs = write_cache(Path(folder) / f"s{size}", size, cases, slices)
            dataset = SliceDataset(site_dirs, split=None, min_brain_fraction=0.0)
            for sampler_name, batch in (("mcbs", 16), ("naive", 1)):
                for workers in (0, 2):
                    sampler = (MCBSBatchSampler(dataset.group_keys(), batch, seed=0) if sampler_name == "mcbs"
                               else NaiveBatchSampler(len(dataset), seed=0))
                    rate, startup, delivered = measure(dataset, sampler, workers, max_slices)
                    rows.append({"size": size, "sampler": sampler_name, "batch_size": batch, "workers": workers,
                                 "slices": delivered, "slices_per_s": round(rate, 1), "startup_s": round(startup, 2)})
                    print(f"{size}x{size}  {sampler_name:5s} batch {batch:2d}  workers {workers}: "
                          f"{rate:8.1f} slices/s over {delivered} slices (start-up {startup:.2f} s)")
    return {"rows": rows, "dataset_slices": len(dataset)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 192])
    parser.add_argument("--cases", type=int, default=4, help="cases per site (four sites)")
    parser.add_argument("--slices", type=int, default=40, help="slices per case")
    parser.add_argument("--max-slices", type=int, default=3000, help="slices timed per measurement (epochs repeat)")
    args = parser.parse_args(argv)
    print(f"data_throughput: dataset + sampler + DataLoader, 4 sites x {args.cases} cases x {args.slices} slices, sizes {args.sizes}")
    result = run(args.sizes, args.cases, args.slices, args.max_slices)
    table = ["| size | sampler | batch | workers | slices/s | start-up s |", "|---|---|---|---|---|---|"]
    table += [f"| {r['size']} | {r['sampler']} | {r['batch_size']} | {r['workers']} | {r['slices_per_s']} | {r['startup_s']} |"
              for r in result["rows"]]
    for size in args.sizes:
        by = {(r["sampler"], r["workers"]): r["slices_per_s"] for r in result["rows"] if r["size"] == size}
        ratio = by[("mcbs", 2)] / by[("mcbs", 0)]
        print(f"{size}x{size}: MCBS 2 workers / 0 workers = {ratio:.2f}x")
        result[f"ratio_workers2_over_0_mcbs_{size}"] = round(ratio, 2)
    write_results("data_throughput", {"config": vars(args), **result}, table)


if __name__ == "__main__":
    main()
