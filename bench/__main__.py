"""`python -m bench [name ...]`: run the named benchmarks (all when none is named)."""
from __future__ import annotations

import importlib
import sys

BENCHMARKS = ["data_throughput", "phantom_speed"]


def main() -> None:
    names = sys.argv[1:] or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    for name in names:
        importlib.import_module(f"bench.{name}").main([])


if __name__ == "__main__":
    main()
