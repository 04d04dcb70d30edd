"""Peak memory of one training step of the paper-size model at batch 1, 4 and 16.

Each batch size runs in a fresh Python process, so its peak resident set size (VmHWM) is
its own: the model, both Adam optimizers with their moment buffers already allocated (a
batch-1 step first primes them, as in any step after the first), and the step's activations
and gradients. On CUDA the peak allocated memory is recorded too. The crop is the paper's
192x192; the batch carries all six modalities, so every encoder runs (the largest step).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import torch

from bench.common import write_results
from bench.training_speed import StepTimer, default_device, model_options
from pmm_core.data.dataset import SliceSample
from pmm_core.modalities import NUM_MODALITIES


def status_mib(field: str) -> float:
    """A memory line of /proc/self/status in MiB: VmRSS (now) or VmHWM (peak of this program).

    Not ru_maxrss: Linux carries that across fork and exec, so a child started by a large
    parent would report the parent's peak (seen here: 4.0 GiB instead of 1.7 GiB at batch 1).
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def random_batch(batch_size: int, size: int) -> SliceSample:
    """A collated batch with all six modalities (every encoder can run) from one site."""
    generator = torch.Generator().manual_seed(batch_size)
    return SliceSample(image=torch.rand(batch_size, NUM_MODALITIES, size, size, generator=generator),
                       availability=torch.ones(batch_size, NUM_MODALITIES),
                       dataset_id=torch.zeros(batch_size, dtype=torch.long), case_id=["random"] * batch_size,
                       slice_index=torch.zeros(batch_size, dtype=torch.long), brain_mask=torch.ones(batch_size, size, size),
                       lesion=torch.zeros(batch_size, size, size))


def child(batch_size: int, size: int, model: str) -> dict:
    device = default_device()
    timer = StepTimer.build(model_options(model), device)
    timer.step(random_batch(1, size))                      # primes Adam's moment buffers
    primed = status_mib("VmRSS")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    timer.step(random_batch(batch_size, size))
    seconds = time.perf_counter() - started
    result = {"batch_size": batch_size, "peak_rss_mib": round(status_mib("VmHWM"), 1),
              "rss_before_step_mib": round(primed, 1), "step_seconds": round(seconds, 2),
              "parameters": sum(p.numel() for p in timer.model.parameters())}
    if device.type == "cuda":
        result["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--model", default="paper", choices=["small", "paper"])
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.size, args.model)))
        return
    print(f"memory_peak: one training step, {args.model} model, {args.size}x{args.size}, batch {args.batch_sizes}, "
          f"{default_device()}, one process per batch size")
    rows = []
    for batch_size in args.batch_sizes:
        done = subprocess.run([sys.executable, "-m", "bench.memory_peak", "--child", str(batch_size), "--size",
                               str(args.size), "--model", args.model], capture_output=True, text=True)
        if done.returncode != 0:                           # the child's own error, not only its exit status
            raise SystemExit(f"memory_peak: the batch-{batch_size} process failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        row = rows[-1]
        print(f"batch {batch_size:2d}: peak RSS {row['peak_rss_mib']:8.1f} MiB (model + optimizers "
              f"{row['rss_before_step_mib']:.0f} MiB), step {row['step_seconds']} s"
              + (f", peak CUDA {row['peak_cuda_mib']} MiB" if "peak_cuda_mib" in row else ""))
    base = rows[0]["peak_rss_mib"]
    for row in rows:
        row["peak_over_batch1"] = round(row["peak_rss_mib"] / base, 2)
    table = ["| batch | peak RSS MiB | before the step MiB | step s | vs batch 1 |", "|---|---|---|---|---|"]
    table += [f"| {r['batch_size']} | {r['peak_rss_mib']} | {r['rss_before_step_mib']} | {r['step_seconds']} | "
              f"{r['peak_over_batch1']}x |" for r in rows]
    write_results("memory_peak", {"config": vars(args) | {"child": None}, "rows": rows}, table)


if __name__ == "__main__":
    main()
