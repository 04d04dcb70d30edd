"""How fast `pmm` starts, and which heavy packages each command imports before it does anything.

A hospital's first contact is `pmm --help`, and every command pays its imports before its first
line of output (and before a typo is reported). Measured side by side in one run:
- wall seconds of `pmm --help` and of `pmm <command> --help` (median of `--repeats`);
- for each command, an invocation that fails at its first check, after its own imports (a
  missing file or site): its wall seconds and, from `python -X importtime`, which heavy packages
  (torch, MLflow, Flower, SimpleITK, …) it loaded and what each cost.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import write_results

HEAVY = ("torch", "mlflow", "flwr", "SimpleITK", "monai", "scipy", "skimage", "nibabel", "pydicom", "matplotlib",
         "pandas", "deepbet", "nilearn")
COMMANDS = ("demo", "phantom", "prepare", "train-central", "evaluate", "synthesize", "complete", "ui", "serve",
            "client", "simulate", "certs", "experiment")


def failing_invocations(folder: Path) -> dict[str, list[str]]:
    """Per command, arguments that pass parsing and fail at the command's first real check."""
    missing = str(folder / "missing")
    cache = ["--cache-dir", str(folder / "cache")]
    return {
        "phantom": ["phantom", "--out", str(folder / "phantom"), "--size", "huge"],
        "prepare": ["prepare", "--site", f"{missing}.toml", *cache],
        "train-central": ["train-central", "--sites", "NOWHERE", *cache],
        "evaluate": ["evaluate", "--checkpoint", f"{missing}.pt", "--site", "NOWHERE", *cache],
        "synthesize": ["synthesize", "--checkpoint", f"{missing}.pt", "--site", "NOWHERE", "--input",
                       f"T1={missing}.nii.gz", "--target", "FLAIR", "--out", str(folder / "out.nii.gz")],
        "complete": ["complete", "--checkpoint", f"{missing}.pt", "--site", "NOWHERE", "--out", str(folder / "done")],
        "simulate": ["simulate", "--sites", "NOWHERE", *cache],
        "experiment": ["experiment", "nothing"],
    }


def wall_seconds(argv: list[str], repeats: int, env: dict) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, timeout=300)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def heavy_imports(argv: list[str], env: dict) -> dict[str, float]:
    """{package: cumulative import ms} of the heavy packages `argv` (pmm's arguments) imported."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "pmm", *argv], capture_output=True, text=True,
                          env=env, timeout=300)
    found: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        name = name.strip()
        if name in HEAVY and name not in found and cumulative.strip().isdigit():
            found[name] = round(int(cumulative) / 1000, 1)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per wall-time measurement (the median is kept)")
    parser.add_argument("--commands", nargs="+", default=list(COMMANDS), choices=COMMANDS, help="commands timed")
    args = parser.parse_args(argv)
    pmm = [str(Path(sys.executable).parent / "pmm")]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        env["PMM_SITES_DIR"] = folder
        rows.append({"command": "pmm --help", "wall_s": round(wall_seconds(pmm + ["--help"], args.repeats, env), 3),
                     "imports_ms": heavy_imports(["--help"], env)})
        for command in args.commands:
            rows.append({"command": f"pmm {command} --help",
                         "wall_s": round(wall_seconds(pmm + [command, "--help"], args.repeats, env), 3)})
        for command, arguments in failing_invocations(Path(folder)).items():
            if command not in args.commands:
                continue
            rows.append({"command": f"pmm {command} (first check fails)",
                         "wall_s": round(wall_seconds(pmm + arguments, max(1, args.repeats // 2), env), 3),
                         "imports_ms": heavy_imports(arguments, env)})
            print(rows[-1], flush=True)
    table = ["| command | wall s | heavy packages imported (cumulative ms) |", "|---|---|---|"]
    table += [f"| `{r['command']}` | {r['wall_s']} | "
              f"{', '.join(f'{k} {v:.0f}' for k, v in r.get('imports_ms', {}).items()) or ('none' if 'imports_ms' in r else '')} |"
              for r in rows]
    write_results("startup_time", {"config": vars(args), "rows": rows}, table)


if __name__ == "__main__":
    main()
