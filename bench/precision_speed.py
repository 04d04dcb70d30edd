"""float32 against bfloat16 autocast, contiguous against channels-last: training and inference
speed side by side in one run, then the quality each reaches after the same wall time.

1. Training: slices/s of pmm's real training step (`batch_step`) for the demo's model and the
   paper's at 192x192, batch 4 and 16, in each of the four combinations.
2. Inference: seconds per slice of one target (T1, T2 -> FLAIR), batch 16, same combinations.
3. Quality at equal wall time: the demo's model trained on the prepared phantom federation for
   the same seconds in float32 and in the candidate (what `auto` picks here), then scored on
   the val split in float32 and in its own precision: whole-brain PSNR and PSNR inside the
   lesion label (so a faster path that learns or predicts the pathology worse is not taken).

On a CPU without native bfloat16 the bfloat16 rows are emulated (slow): the point of the table
is which path wins on the machine it runs on; `pmm_core.training.precision` picks per machine.
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from bench.common import peak_gpu_gib, reset_peak_gpu_memory, write_results
from bench.phantom_sites import phantom_sites
from bench.synthetic_cache import write_cache
from bench.training_speed import StepTimer, default_device, endless, model_options
from pmm_core.config.training import TrainingOptions
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.samplers import MCBSBatchSampler
from pmm_core.evaluation.lesion_quality import lesion_and_brain_psnr
from pmm_core.models import build_model
from pmm_core.training.conditions import task_condition
from pmm_core.training.precision import cpu_has_native_bfloat16, resolve_precision

COMBINATIONS = [("float32", False), ("float32", True), ("bfloat16", False), ("bfloat16", True)]
PAPER_ARGS = ["--models", "paper", "--batch-sizes", "16", "--budget", "600"]


def _label(precision: str, channels_last: bool) -> str:
    return f"{precision} {'channels-last' if channels_last else 'contiguous'}"


def training_rows(args, device, folder: Path, combinations=COMBINATIONS, min_steps: int = 1) -> list[dict]:
    """Slices/s of a training step per model, batch and combination (one warm-up step each), with
    the peak GPU memory of each (None on the CPU)."""
    dataset = SliceDataset(write_cache(folder / "timing", args.size, 2, 16), split=None, min_brain_fraction=0.0)
    rows = []
    for width, batch in itertools.product(args.models, args.batch_sizes):
        sampler = [list(range(batch))]  # one full batch of one pattern, again and again
        for precision, channels_last in combinations:
            reset_peak_gpu_memory()
            options = TrainingOptions(batch_size=batch, precision=precision, channels_last=channels_last,
                                      model=model_options(width))
            timer = StepTimer.build(options.model, device, training=options)
            rate = timer.run(endless(DataLoader(dataset, batch_sampler=sampler)), args.seconds, min_steps=min_steps)
            rows.append({"model": width, "size": args.size, "batch_size": batch, "precision": precision,
                         "channels_last": channels_last, **rate.row(), "peak_gib": peak_gpu_gib()})
            print(f"train {width:5s} batch {batch:2d} {_label(precision, channels_last):24s} "
                  f"{rate.slices_per_s:7.2f} slices/s", flush=True)
    for row in rows:
        base = next(r for r in rows if r["model"] == row["model"] and r["batch_size"] == row["batch_size"]
                    and r["precision"] == "float32" and not r["channels_last"])
        row["speedup"] = round(row["slices_per_s"] / base["slices_per_s"], 2)
    return rows


@torch.no_grad()
def inference_rows(args, device) -> list[dict]:
    """Seconds per slice of T1, T2 -> FLAIR (only FLAIR's decoder), batch 16, per combination."""
    sc = task_condition(["T1", "T2"])
    wanted = torch.tensor([0, 0, 0, 1, 0, 0], dtype=torch.float32)
    image = torch.rand(16, 6, args.size, args.size) * sc[None, :, None, None]
    ids = torch.zeros(16, dtype=torch.int64, device=device)
    rows = []
    for width in args.models:
        torch.manual_seed(0)
        for precision_name, channels_last in COMBINATIONS:
            precision = resolve_precision(precision_name, channels_last, device)
            model = precision.prepare_model(build_model(model_options(width)).to(device).eval())
            x = precision.prepare_input(image.to(device))
            seconds = []
            for repeat in range(args.inference_repeats + 1):
                started = time.perf_counter()
                with precision.autocast():
                    model(x, sc, ids, wanted).float().cpu()
                if repeat:  # the first is a warm-up
                    seconds.append(time.perf_counter() - started)
            per_slice = float(np.median(seconds)) / 16
            rows.append({"model": width, "size": args.size, "precision": precision_name,
                         "channels_last": channels_last, "s_per_slice": round(per_slice, 4)})
            print(f"infer {width:5s} {_label(precision_name, channels_last):24s} {per_slice:.4f} s/slice", flush=True)
    for row in rows:
        base = next(r for r in rows if r["model"] == row["model"] and r["precision"] == "float32"
                    and not r["channels_last"])
        row["speedup"] = round(base["s_per_slice"] / row["s_per_slice"], 2)
    return rows


def quality_rows(args, device) -> list[dict]:
    """The demo's model trained for `budget` seconds per path on the phantom, then scored."""
    site_dirs, _ = phantom_sites(args.phantom_cases)
    dataset = SliceDataset(site_dirs, "train")
    rows = []
    candidate = resolve_precision(args.candidate, None, device)  # as training picks it on this machine
    for precision, channels_last in (("float32", False), (candidate.name, candidate.channels_last)):
        options = TrainingOptions(batch_size=4, learning_rate=1e-3, precision=precision, channels_last=channels_last,
                                  model=model_options("small"))
        timer = StepTimer.build(options.model, device, learning_rate=1e-3, training=options)
        sampler = MCBSBatchSampler(dataset.group_keys(), 4, 0)
        rate = timer.run(endless(DataLoader(dataset, batch_sampler=sampler)), args.budget, warmup=0)
        row = {"precision": precision, "channels_last": channels_last, "budget_s": args.budget, "steps": rate.steps,
               "slices": rate.slices}
        for scored_in in ("float32", precision):
            scoring = resolve_precision(scored_in, channels_last and scored_in != "float32", device)
            quality = lesion_and_brain_psnr(scoring.prepare_model(timer.model), site_dirs, device, scoring)
            row[f"scored_{scored_in}"] = quality
        rows.append(row)
        print(f"quality {_label(precision, channels_last):24s} {rate.steps} steps in {args.budget:.0f} s: "
              f"{row}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["small", "paper"], choices=["small", "paper"])
    parser.add_argument("--size", type=int, default=192, help="crop size (the paper's: 192)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per training measurement")
    parser.add_argument("--inference-repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=240.0, help="training seconds per path for the quality; 0: skip")
    parser.add_argument("--phantom-cases", type=int, default=6, help="phantom cases per site for the quality")
    parser.add_argument("--parts", nargs="+", default=["speed", "quality"], choices=["speed", "quality"],
                        help="what to measure; a part alone writes precision_speed_<part>")
    parser.add_argument("--candidate", default="auto", help="the precision compared with float32 for quality "
                                                            "(default: what `auto` picks here, with its layout)")
    args = parser.parse_args(argv)
    device = default_device()
    native = cpu_has_native_bfloat16()
    print(f"precision_speed: {device}, native CPU bfloat16: {native}, models {args.models}, {args.size}x{args.size}")
    training, inference = [], []
    if "speed" in args.parts:
        with tempfile.TemporaryDirectory() as folder:
            training = training_rows(args, device, Path(folder))
        inference = inference_rows(args, device)
    quality = quality_rows(args, device) if args.budget > 0 and "quality" in args.parts else []
    table = []
    if training:
        table += ["| model | batch | precision | layout | slices/s | × float32 contiguous |", "|---|---|---|---|---|---|"]
    table += [f"| {r['model']} | {r['batch_size']} | {r['precision']} | {_label('', r['channels_last']).strip()} | "
              f"{r['slices_per_s']} | {r['speedup']} |" for r in training]
    if inference:
        table += ["", "| model | inference precision | layout | s per slice | × float32 contiguous |", "|---|---|---|---|---|"]
    table += [f"| {r['model']} | {r['precision']} | {_label('', r['channels_last']).strip()} | {r['s_per_slice']} | "
              f"{r['speedup']} |" for r in inference]
    if quality:
        table += ["", "| trained in | steps in budget | scored in | val PSNR brain dB | val PSNR lesion dB |",
                  "|---|---|---|---|---|"]
        for r in quality:
            for key in ("scored_float32", f"scored_{r['precision']}"):
                q = r[key]
                table.append(f"| {_label(r['precision'], r['channels_last'])} | {r['steps']} | {key.split('_', 1)[1]} | "
                             f"{q['brain_psnr']} | {q['lesion_psnr']} |")
                if r["precision"] == "float32":
                    break
    name = "precision_speed" if set(args.parts) == {"speed", "quality"} else f"precision_speed_{'_'.join(args.parts)}"
    write_results(name, {"config": vars(args), "native_cpu_bfloat16": native, "training": training,
                         "inference": inference, "quality": quality}, table)


if __name__ == "__main__":
    main()
