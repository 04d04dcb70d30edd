"""Streams activated by availability: training and inference with only the decoders that are
needed, against the six-decoder step pmm ran before.

Training: one MCBS batch per site pattern (TTG has all six modalities, BraTS four, ISLES three,
TTI one to four), the real training step (`train_step`) once with all six decoders and once
with the batch's available ones (the default), alternating on the same model so both see the
same machine state. Inference: seconds per slice for one target (T1, T2 -> FLAIR), all six
decoders against the target's only. Both are timed side by side in one run.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from bench.common import write_results
from bench.training_speed import default_device, model_options
from pmm_core.config.model import LossWeights
from pmm_core.modalities import MODALITIES, availability_vector
from pmm_core.models import build_model
from pmm_core.training.conditions import sample_condition, task_condition
from pmm_core.training.precision import resolve_precision
from pmm_core.training.step import build_optimizers, train_step

PATTERNS = {
    "TTG (6 of 6)": ("T1", "T2", "T1C", "FLAIR", "DWI", "ADC"),
    "BraTS (4 of 6)": ("T1", "T2", "T1C", "FLAIR"),
    "TTI (4 of 6)": ("T1", "T2", "FLAIR", "ADC"),
    "ISLES (3 of 6)": ("FLAIR", "DWI", "ADC"),
    "TTI (2 of 6)": ("T1", "FLAIR"),
    "TTI (1 of 6)": ("ADC",),
}
PAPER_ARGS = ["--model", "paper", "--size", "192", "--batch-size", "16", "--steps", "5"]


def _batch(pattern: tuple[str, ...], batch: int, size: int, device: torch.device):
    generator = torch.Generator().manual_seed(0)
    m = torch.tensor([availability_vector(pattern)] * batch, dtype=torch.float32)
    image = torch.rand(batch, 6, size, size, generator=generator) * m[:, :, None, None]
    return image.to(device), m, torch.zeros(batch, dtype=torch.int64, device=device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training(pattern, model, optimizers, args, device, precision) -> dict[str, float]:
    """Seconds per step with all six decoders and with the available ones, interleaved step by step."""
    image, m, ids = _batch(pattern, args.batch_size, args.size, device)
    rng = np.random.default_rng(0)
    seconds = {"all": 0.0, "available": 0.0}
    for step in range(args.steps + 1):
        for way, outputs in (("all", torch.ones(6)), ("available", None)):
            sc = sample_condition(m, rng)
            _sync(device)
            started = time.perf_counter()
            train_step(model, optimizers, image, m, ids, sc, LossWeights(), precision=precision, outputs=outputs)
            _sync(device)
            if step:  # the first round is a warm-up
                seconds[way] += time.perf_counter() - started
    return {way: s / args.steps for way, s in seconds.items()}


@torch.no_grad()
def time_inference(model, args, device) -> dict[str, float]:
    """Seconds per slice for T1, T2 -> FLAIR: all six decoders, and FLAIR's only."""
    image, _, ids = _batch(MODALITIES, args.batch_size, args.size, device)
    sc = task_condition(["T1", "T2"]).to(device)
    target = torch.zeros(6, device=device)
    target[MODALITIES.index("FLAIR")] = 1
    model.eval()
    seconds = {"all": 0.0, "target": 0.0}
    for step in range(args.steps + 1):
        for way, outputs in (("all", None), ("target", target)):
            _sync(device)
            started = time.perf_counter()
            model(image * sc[None, :, None, None], sc, ids, outputs)
            _sync(device)
            if step:
                seconds[way] += time.perf_counter() - started
    model.train()
    return {way: s / (args.steps * args.batch_size) for way, s in seconds.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=192, help="crop size (the paper's: 192)")
    parser.add_argument("--model", default="small", choices=["small", "paper"])
    parser.add_argument("--batch-size", type=int, default=4, help="MCBS batch (the paper's: 16)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per way and pattern, after one warm-up")
    args = parser.parse_args(argv)
    device = default_device()
    print(f"decoder_activation: six decoders vs the available ones, {args.model} model, {args.size}x{args.size}, "
          f"batch {args.batch_size}, {args.steps} timed steps each, {device}")
    torch.manual_seed(0)
    precision = resolve_precision("auto", None, device)  # as training runs on this device
    model = precision.prepare_model(build_model(model_options(args.model)).to(device))
    optimizers = build_optimizers(model, 1e-4, loss_scaling=precision.needs_loss_scaling)
    rows = []
    for name, pattern in PATTERNS.items():
        seconds = time_training(pattern, model, optimizers, args, device, precision)
        row = {"site": name, "modalities": list(pattern),
               "all_slices_per_s": round(args.batch_size / seconds["all"], 3),
               "available_slices_per_s": round(args.batch_size / seconds["available"], 3),
               "speedup": round(seconds["all"] / seconds["available"], 2)}
        rows.append(row)
        print(f"{name:16s} train: {row['all_slices_per_s']:7.3f} -> {row['available_slices_per_s']:7.3f} slices/s "
              f"({row['speedup']:.2f}x)")
    inference = time_inference(model, args, device)
    inference_speedup = inference["all"] / inference["target"]
    print(f"inference T1,T2->FLAIR: {inference['all']:.4f} -> {inference['target']:.4f} s/slice ({inference_speedup:.2f}x)")
    table = [f"Six decoders against the available ones ({args.model} model, {args.size}x{args.size}, batch "
             f"{args.batch_size}, {device}; {args.steps} timed steps each, interleaved).", "",
             "| site pattern | six decoders, slices/s | available decoders, slices/s | speed-up |", "|---|---|---|---|"]
    table += [f"| {r['site']} | {r['all_slices_per_s']} | {r['available_slices_per_s']} | {r['speedup']}x |" for r in rows]
    table += ["", "| inference (T1, T2 -> FLAIR) | six decoders, s/slice | target only, s/slice | speed-up |",
              "|---|---|---|---|",
              f"| one target | {inference['all']:.4f} | {inference['target']:.4f} | {inference_speedup:.2f}x |"]
    write_results("decoder_activation", {"settings": vars(args), "training": rows,
                                         "inference": {**inference, "speedup": round(inference_speedup, 2)}}, table)


if __name__ == "__main__":
    main()
