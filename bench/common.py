"""What every benchmark records: the machine, and where its results go."""
from __future__ import annotations

import argparse

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

from pmm_core.atomic import write_text_atomic

# results are committed; tests point PMM_BENCH_RESULTS elsewhere so a smoke run never overwrites them
RESULTS = Path(os.environ.get("PMM_BENCH_RESULTS", Path(__file__).parent / "results"))


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def reset_peak_gpu_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gpu_gib() -> float | None:
    """Peak GPU memory allocated since the last reset, GiB; None on a machine without CUDA."""
    return round(torch.cuda.max_memory_allocated() / 2 ** 30, 2) if torch.cuda.is_available() else None


def write_results(name: str, payload: dict[str, Any], table: list[str]) -> Path:
    """bench/results/<name>.json plus a markdown table beside it; the table is printed too."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    write_text_atomic(path, json.dumps({"benchmark": name, "machine": machine(), **payload}, indent=2))
    write_text_atomic(RESULTS / f"{name}.md", "\n".join(table) + "\n")
    print("\n".join(table))
    print(f"written {path}")
    return path


def many_cases_arguments(description: str) -> argparse.ArgumentParser:
    """The options of the loader benchmarks over many small cases (open_cases, lesion_maps): every
    batch of 16 reads 16 cases' files, the worst case for anything kept per case."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--slices", type=int, default=4, help="slices per case")
    parser.add_argument("--max-slices", type=int, default=4000, help="slices timed per measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    return parser
