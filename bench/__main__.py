"""`python -m bench [--paper] [name ...]`: run the named benchmarks (all when none is named).

The default settings finish in about an hour on a 2-core CPU (precision_speed, which times the
paper-size model at batch 16 in four ways, is 25 minutes of it). `--paper` gives each
benchmark its paper-size settings (the paper's model and 192x192 crops, more time per
measurement): meant for a GPU, hours on a CPU.
"""
from __future__ import annotations

import argparse
import importlib
import time

BENCHMARKS = ["mcbs_speedup", "pipeline_headroom", "federation_overhead", "memory_peak", "backbone_cost",
              "data_throughput", "phantom_speed", "prepare_speed", "synthesize_speed", "complete_speed", "decoder_activation", "method_cost", "tracking_overhead",
              "evaluate_protocols", "precision_speed", "step_profile", "startup_time", "lesion_budget",
              "open_cases", "lesion_maps", "mirroring_cost", "montage_cost"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="name", help=f"any of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--paper", action="store_true", help="paper-size settings (for a GPU)")
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        module.main(list(getattr(module, "PAPER_ARGS", [])) if args.paper else [])
        print(f"[{name}: {time.perf_counter() - started:.0f} s]\n", flush=True)


if __name__ == "__main__":
    main()
