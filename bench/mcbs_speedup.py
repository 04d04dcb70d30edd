"""MCBS (one site and availability pattern per batch, batch 16) against the naive batch-1 sampler.

Time per training step, per 1,000 slices and per epoch, side by side on the same model and
data, at 192x192 and at a small size; then the validation PSNR each reaches on the phantom
federation after the same wall-clock budget. The paper: 8,724 s -> 2,078 s per epoch (4.2x)
on an A100. On a CPU a larger batch buys little (one 192x192 slice already fills the cores), so expect a smaller
ratio here; `--model paper --sizes 192` on a GPU is the paper's setting.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader

from bench.common import write_results
from bench.synthetic_cache import write_cache
from bench.training_speed import StepTimer, add_training_options, default_device, endless, model_options
from pmm_core.config.training import TrainingOptions
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.samplers import MCBSBatchSampler, NaiveBatchSampler
from pmm_core.federated.local_round import validation_metrics

PAPER_EPOCH_S = {"naive": 8724.0, "mcbs": 2078.0}
PAPER_ARGS = ["--model", "paper", "--sizes", "192", "--seconds", "120", "--budget", "900"]  # python -m bench --paper


def make_sampler(name: str, dataset: SliceDataset, batch_size: int, seed: int = 0):
    return MCBSBatchSampler(dataset.group_keys(), batch_size, seed) if name == "mcbs" else NaiveBatchSampler(len(dataset), seed)


def timing_rows(args, device) -> list[dict]:
    """Seconds per step / per 1,000 slices / per epoch of each sampler at each size."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            dataset = SliceDataset(write_cache(Path(folder) / f"s{size}", size, args.cases, args.slices), split=None,
                                   min_brain_fraction=0.0)
            for name, batch in (("naive", 1), ("mcbs", args.batch_size)):
                sampler = make_sampler(name, dataset, batch)
                timer = StepTimer.build(model_options(args.model), device)
                rate = timer.run(endless(DataLoader(dataset, batch_sampler=sampler)), args.seconds)
                epoch_steps = len(sampler)
                row = {"size": size, "sampler": name, "batch_size": batch, **rate.row(),
                       "epoch_steps": epoch_steps, "epoch_slices": sum(len(b) for b in sampler.epoch_batches()),
                       "seconds_per_epoch": round(epoch_steps * rate.seconds_per_step, 1)}
                rows.append(row)
                print(f"{size}x{size} {name:5s} batch {batch:2d}: {row['seconds_per_step']:7.3f} s/step, "
                      f"{row['seconds_per_1000_slices']:7.1f} s per 1,000 slices, epoch of {len(dataset)} slices "
                      f"{row['seconds_per_epoch']:.1f} s")
    return rows


def mean_val_psnr(model, site_dirs: list[Path], device) -> float:
    options = TrainingOptions(batch_size=16)
    scores = [m["val/mean_psnr"] for m in (validation_metrics(model, d, options, device)[0] for d in site_dirs)
              if "val/mean_psnr" in m]
    return float(np.mean(scores))


def quality_rows(args, device) -> list[dict]:
    """Validation PSNR on the phantom after the same wall-clock training budget per sampler."""
    from bench.phantom_sites import phantom_sites  # the demo's builder (and MLflow): only where scored

    site_dirs, _ = phantom_sites(args.phantom_cases)
    dataset = SliceDataset(site_dirs, "train")
    rows = []
    for name, batch in (("naive", 1), ("mcbs", args.batch_size)):
        sampler = make_sampler(name, dataset, batch)
        timer = StepTimer.build(model_options("small"), device)
        started = time.perf_counter()
        untrained = mean_val_psnr(timer.model, site_dirs, device) if not rows else rows[0]["untrained_psnr"]
        timer.model.train()
        rate = timer.run(endless(DataLoader(dataset, batch_sampler=sampler)), args.budget, warmup=0)
        psnr = mean_val_psnr(timer.model, site_dirs, device)
        rows.append({"sampler": name, "batch_size": batch, "budget_s": args.budget, "steps": rate.steps,
                     "slices": rate.slices, "epochs": round(rate.slices / len(dataset), 2),
                     "untrained_psnr": round(untrained, 2), "val_psnr": round(psnr, 2),
                     "wall_s": round(time.perf_counter() - started, 1)})
        print(f"{name:5s} batch {batch:2d}: {rate.steps} steps, {rate.slices} slices in {args.budget:.0f} s "
              f"-> mean val PSNR {psnr:.2f} dB (untrained {untrained:.2f})")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_options(parser)  # --model applies to the timing; the PSNR comparison uses the small model
    parser.add_argument("--cases", type=int, default=3, help="synthetic cases per site for the timing")
    parser.add_argument("--slices", type=int, default=24, help="slices per synthetic case")
    parser.add_argument("--budget", type=float, default=60.0, help="training seconds per sampler for the PSNR")
    parser.add_argument("--phantom-cases", type=int, default=6, help="phantom cases per site for the PSNR")
    args = parser.parse_args(argv)
    device = default_device()
    print(f"mcbs_speedup: naive batch 1 vs MCBS batch {args.batch_size}, {args.model} model, sizes {args.sizes}, "
          f"{device}; PSNR after {args.budget:.0f} s each")
    timing = timing_rows(args, device)
    ratios = {}
    for size in args.sizes:
        by = {r["sampler"]: r for r in timing if r["size"] == size}
        ratios[size] = round(by["naive"]["seconds_per_epoch"] / by["mcbs"]["seconds_per_epoch"], 2)
        print(f"{size}x{size}: epoch time naive / MCBS = {ratios[size]:.2f}x (paper, A100, 192x192: "
              f"{PAPER_EPOCH_S['naive'] / PAPER_EPOCH_S['mcbs']:.1f}x)")
    quality = quality_rows(args, device) if args.budget > 0 else []
    table = ["| size | sampler | batch | s/step | s per 1,000 slices | s/epoch | naive/MCBS |", "|---|---|---|---|---|---|---|"]
    table += [f"| {r['size']} | {r['sampler']} | {r['batch_size']} | {r['seconds_per_step']} | {r['seconds_per_1000_slices']} | "
              f"{r['seconds_per_epoch']} | {ratios[r['size']] if r['sampler'] == 'mcbs' else ''} |" for r in timing]
    table += ["", f"Paper (A100, 192x192, paper model): naive {PAPER_EPOCH_S['naive']:.0f} s, MCBS "
              f"{PAPER_EPOCH_S['mcbs']:.0f} s per epoch, {PAPER_EPOCH_S['naive'] / PAPER_EPOCH_S['mcbs']:.1f}x.", ""]
    if quality:
        table += ["| sampler | batch | budget s | steps | epochs | val PSNR dB (untrained) |", "|---|---|---|---|---|---|"]
        table += [f"| {r['sampler']} | {r['batch_size']} | {r['budget_s']:.0f} | {r['steps']} | {r['epochs']} | "
                  f"{r['val_psnr']} ({r['untrained_psnr']}) |" for r in quality]
    write_results("mcbs_speedup", {"config": vars(args), "timing": timing, "naive_over_mcbs_epoch": ratios,
                                   "paper_epoch_s": PAPER_EPOCH_S, "quality": quality}, table)


if __name__ == "__main__":
    main()
