"""Data pipeline against the model: slices/s the loader delivers vs slices/s training consumes.

The pipeline (SliceDataset + MCBS + DataLoader, pmm's default of 0 workers) is timed on its
own, and the training step is timed on batches already in memory, so neither hides the
other; headroom = pipeline / model must stay at 5x or more, or the pipeline would slow
training down. Sizes 64 and 192 with the demo's model by default; `--model paper` for the
paper's (on a GPU, where the model is fast and the headroom is smallest).
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

from torch.utils.data import DataLoader

from bench.common import write_results
from bench.data_throughput import measure
from bench.synthetic_cache import write_cache
from bench.training_speed import StepTimer, add_training_options, default_device, model_options
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.samplers import MCBSBatchSampler

REQUIRED_HEADROOM = 5.0
PAPER_ARGS = ["--model", "paper", "--sizes", "192", "--seconds", "60"]  # python -m bench --paper


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_options(parser)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (pmm's default: 0)")
    parser.add_argument("--max-slices", type=int, default=3000, help="slices timed through the pipeline")
    args = parser.parse_args(argv)
    device = default_device()
    print(f"pipeline_headroom: loader vs training step, {args.model} model, MCBS batch {args.batch_size}, "
          f"{args.workers} workers, sizes {args.sizes}, {device}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            dataset = SliceDataset(write_cache(Path(folder) / f"s{size}", size, cases=3, slices=24), split=None,
                                   min_brain_fraction=0.0)
            sampler = MCBSBatchSampler(dataset.group_keys(), args.batch_size, seed=0)
            pipeline, _, _ = measure(dataset, sampler, args.workers, args.max_slices)
            batches = list(itertools.islice(DataLoader(dataset, batch_sampler=sampler), 4))  # in memory: model only
            rate = StepTimer.build(model_options(args.model), device).run(itertools.cycle(batches), args.seconds)
            headroom = pipeline / rate.slices_per_s
            rows.append({"size": size, "batch_size": args.batch_size, "workers": args.workers,
                         "pipeline_slices_per_s": round(pipeline, 1), "model_slices_per_s": round(rate.slices_per_s, 2),
                         "headroom": round(headroom, 1), "ok": headroom >= REQUIRED_HEADROOM})
            print(f"{size}x{size}: pipeline {pipeline:9.1f} slices/s, training {rate.slices_per_s:7.2f} slices/s, "
                  f"headroom {headroom:.0f}x ({'ok' if headroom >= REQUIRED_HEADROOM else 'BOTTLENECK'})")
    table = ["| size | batch | workers | pipeline slices/s | training slices/s | headroom |", "|---|---|---|---|---|---|"]
    table += [f"| {r['size']} | {r['batch_size']} | {r['workers']} | {r['pipeline_slices_per_s']} | "
              f"{r['model_slices_per_s']} | {r['headroom']}x |" for r in rows]
    write_results("pipeline_headroom", {"config": vars(args), "model": args.model, "rows": rows,
                                        "required_headroom": REQUIRED_HEADROOM}, table)
    if not all(r["ok"] for r in rows):
        raise SystemExit(f"the data pipeline has less than {REQUIRED_HEADROOM:.0f}x headroom: profile it")


if __name__ == "__main__":
    main()
