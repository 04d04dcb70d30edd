"""Seconds per phantom case at full (native) size and at test size, per site.

The issue's budget is about 10 s per full-size case on 2 cores. The template is loaded once per
process (reported apart), as `pmm phantom` does.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import write_results
from pmm_core.phantom.anatomy import template_maps
from pmm_core.phantom.generator import CaseSynthesizer
from pmm_core.phantom.sites import SITES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2, help="cases timed per site and size")
    args = parser.parse_args(argv)
    print(f"phantom_speed: seconds per case, {args.cases} case(s) per site, full and test size")
    rows, loads = [], {}
    for size, resolution in (("full", 1), ("test", 2)):
        start = time.perf_counter()
        template_maps(resolution)
        loads[size] = round(time.perf_counter() - start, 2)
        for site in SITES:
            rng = np.random.default_rng([0, site.dataset_id])
            start = time.perf_counter()
            for index in range(args.cases):
                CaseSynthesizer(site, resolution, size == "test", rng).make(f"c{index}", site.modalities)
            seconds = (time.perf_counter() - start) / args.cases
            rows.append({"site": site.name, "size": size, "seconds_per_case": round(seconds, 2)})
            print(f"{size:4s} {site.name:5s}: {seconds:6.2f} s/case")
    full = [r["seconds_per_case"] for r in rows if r["size"] == "full"]
    test = [r["seconds_per_case"] for r in rows if r["size"] == "test"]
    ratio = sum(full) / sum(test)
    print(f"template load: full {loads['full']} s, test {loads['test']} s; full/test time ratio {ratio:.1f}x")
    table = ["| site | size | s/case |", "|---|---|---|"] + [f"| {r['site']} | {r['size']} | {r['seconds_per_case']} |" for r in rows]
    write_results("phantom_speed", {"config": vars(args), "rows": rows, "template_load_s": loads,
                                    "full_over_test": round(ratio, 1)}, table)


if __name__ == "__main__":
    main()
