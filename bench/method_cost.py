"""What each training method costs per slice: PMM-Synth against its peers pix2pix and MM-GAN.

The three methods through the same training step (`batch_step`: each method's own condition
and losses), on the same BraTS-pattern batches (T1, T2, T1C, FLAIR) at the native crop size,
each at the same width (`small`: the experiments' 16 channels; `paper`: 64, the paper's and
pix2pix's); pix2pix trains its T1->T1C task. Then inference: one target for a slab of slices,
as `pmm evaluate` and `pmm synthesize` run it. The ratios say what "the same epochs of data"
costs each method in wall time (`pmm experiment tables` trains every method that many epochs).
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from bench.common import write_results
from bench.synthetic_cache import write_cache
from bench.training_speed import StepTimer, default_device, model_options
from pmm_core.config.methods import MMGANOptions, Pix2PixOptions
from pmm_core.config.training import TrainingOptions
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.samplers import MCBSBatchSampler
from pmm_core.evaluation.evaluate import synthesize_slices
from pmm_core.methods import method_of
from pmm_core.training.conditions import task_condition

PAPER_ARGS = ["--model", "paper", "--seconds", "60"]  # python -m bench --paper
UNET_WIDTH = {"small": dict(base_channels=16, discriminator_channels=16), "paper": {}}


def unet_depth(size: int, most: int = 6) -> int:
    """The deepest U-Net (up to pix2pix-like `most` levels) whose levels halve `size` exactly."""
    depth = 1
    while depth < most and size % 2 ** (depth + 1) == 0:
        depth += 1
    return depth


def method_options(method: str, width: str, size: int) -> TrainingOptions:
    unet = UNET_WIDTH[width] | {"depth": unet_depth(size)}
    return TrainingOptions(method=method, model=model_options(width), mmgan=MMGANOptions(**unet),
                           pix2pix=Pix2PixOptions(**unet, sources=["T1"], target="T1C"))


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def inference_seconds(model: torch.nn.Module, batch, device: torch.device, slices: int) -> float:
    """Seconds to synthesize T1C from T1 for `slices` slices (the batch repeated), batch 16."""
    volume = batch.image.repeat((slices + len(batch.image) - 1) // len(batch.image), 1, 1, 1)[:slices].numpy()
    model.eval()
    synthesize_slices(model, volume[:2], task_condition(["T1"]), 2, device, 16, "T1C")  # warm-up
    started = time.perf_counter()
    synthesize_slices(model, volume, task_condition(["T1"]), 2, device, 16, "T1C")
    model.train()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=192, help="crop size (default: the paper's 192)")
    parser.add_argument("--model", default="small", choices=["small", "paper"])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0, help="timed training seconds per method")
    parser.add_argument("--slices", type=int, default=48, help="slices synthesized for the inference timing")
    args = parser.parse_args(argv)
    device = default_device()
    print(f"method_cost: PMM-Synth, pix2pix (T1->T1C), MM-GAN at {args.model} width, {args.size}x{args.size}, "
          f"batch {args.batch_size}, {device}; training step and inference of one target")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        brats = [d for d in write_cache(Path(folder), args.size, cases=2, slices=16) if d.name == "BraTS"]
        dataset = SliceDataset(brats, split=None, min_brain_fraction=0.0)
        batches = list(itertools.islice(DataLoader(dataset, batch_sampler=MCBSBatchSampler(
            dataset.group_keys(), args.batch_size, 0)), 8))
        for method in ("pmm-synth", "pix2pix", "mmgan"):
            options = method_options(method, args.model, args.size)
            torch.manual_seed(0)
            model = method_of(options).build(options)
            rate = StepTimer(model, device, options=options).run(itertools.cycle(batches), args.seconds)
            infer = inference_seconds(model, batches[0], device, args.slices)
            rows.append({"method": method_of(options).label, "generator_parameters": parameter_count(model.generator),
                         "discriminator_parameters": parameter_count(model.discriminators), **rate.row(),
                         "inference_s_per_slice": round(infer / args.slices, 4)})
            print(f"{rows[-1]['method']:10s}: generator {rows[-1]['generator_parameters']:>10,} parameters, "
                  f"{rate.slices_per_s:7.2f} training slices/s, {infer / args.slices * 1000:6.1f} ms per synthesized slice")
    base = rows[0]
    for row in rows:
        row["training_time_vs_pmm"] = round(base["slices_per_s"] / row["slices_per_s"], 2)
        row["inference_time_vs_pmm"] = round(row["inference_s_per_slice"] / base["inference_s_per_slice"], 2)
    table = ["| method | generator parameters | training slices/s | s per 1,000 slices | vs PMM-Synth | "
             "ms per synthesized slice | vs PMM-Synth |", "|---|---|---|---|---|---|---|"]
    table += [f"| {r['method']} | {r['generator_parameters']:,} | {r['slices_per_s']} | {r['seconds_per_1000_slices']} | "
              f"{r['training_time_vs_pmm']}x | {r['inference_s_per_slice'] * 1000:.1f} | {r['inference_time_vs_pmm']}x |"
              for r in rows]
    table += ["", f"{args.model} width, {args.size}x{args.size}, training batch {args.batch_size} (BraTS pattern), "
                  f"inference of T1C from T1 over {args.slices} slices at batch 16; {device}."]
    write_results("method_cost", {"config": vars(args), "rows": rows}, table)


if __name__ == "__main__":
    main()
