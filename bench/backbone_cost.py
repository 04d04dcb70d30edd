"""What the multi-stream backbone costs: training throughput of pmm's generator against a plain
single-stream pix2pix-style generator of the same depth and width (bench/single_stream.py).

Three models through the same training step, discriminators and losses, on the same
batches: PMM-Synth (multi-stream + PFM), PMM-Synth without PFM (multi-stream only), and the
single-stream generator. The ratios say what the six encoders/decoders with DFUM cost, and
what PFM adds on top.
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from bench.common import write_results
from bench.single_stream import single_stream_model
from bench.synthetic_cache import write_cache
from bench.training_speed import StepTimer, default_device, model_options
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.samplers import MCBSBatchSampler
from pmm_core.models import build_model
PAPER_ARGS = ["--model", "paper", "--size", "192", "--batch-size", "16", "--seconds", "60"]  # python -m bench --paper


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--model", default="small", choices=["small", "paper"])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per model")
    args = parser.parse_args(argv)
    device = default_device()
    print(f"backbone_cost: multi-stream vs single-stream generator, {args.model} width, {args.size}x{args.size}, "
          f"batch {args.batch_size}, {device}")
    options = model_options(args.model)
    models = {"pmm (multi-stream + PFM)": lambda: build_model(options),
              "pmm w/o PFM (multi-stream)": lambda: build_model(options.model_copy(update={"pfm": False})),
              "single-stream pix2pix": lambda: single_stream_model(options)}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        dataset = SliceDataset(write_cache(Path(folder), args.size, cases=2, slices=16), split=None, min_brain_fraction=0.0)
        batches = list(itertools.islice(DataLoader(dataset, batch_sampler=MCBSBatchSampler(dataset.group_keys(),
                                                                                           args.batch_size, 0)), 8))
        for name, build in models.items():
            torch.manual_seed(0)
            model = build()
            rate = StepTimer(model, device).run(itertools.cycle(batches), args.seconds)
            rows.append({"model": name, "generator_parameters": parameter_count(model.generator),
                         "embedding_parameters": parameter_count(model.embedding) if model.embedding is not None else 0,
                         **rate.row()})
            print(f"{name:28s}: generator {rows[-1]['generator_parameters']:>10,} parameters, "
                  f"{rate.slices_per_s:7.2f} slices/s")
    single = rows[-1]["slices_per_s"]
    for row in rows:
        row["slowdown_vs_single"] = round(single / row["slices_per_s"], 2)
    table = ["| generator | parameters | slices/s | time vs single-stream |", "|---|---|---|---|"]
    table += [f"| {r['model']} | {r['generator_parameters']:,} | {r['slices_per_s']} | {r['slowdown_vs_single']}x |"
              for r in rows]
    write_results("backbone_cost", {"config": vars(args), "rows": rows}, table)


if __name__ == "__main__":
    main()
