"""One training step under torch.profiler: its top operators, and how often it reads a tensor back.

`aten::_local_scalar_dense` is a tensor read back to the host (`.item()`, `float(t)`, `bool(t)`).
On a GPU a read of a device tensor stalls the launch queue until every kernel before it is done;
the step decides which streams and discriminators run from the sampler's CPU tensors and reads
its five losses back once, at its end. Counted here outside the optimizer (Adam reads its CPU
step counters, which costs nothing), per method. On the CPU every tensor is a host tensor, so the
count is an upper bound; on CUDA `device_syncs` counts the real ones (torch's sync debug mode).
The table is the step's top operators by self CPU time, for the demo's model at the demo's size,
in the precision `auto` picks here.
"""
from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from bench.common import write_results
from bench.training_speed import default_device, model_options
from pmm_core.config.training import TrainingOptions
from pmm_core.methods import method_of
from pmm_core.modalities import availability_vector
from pmm_core.methods.recipe import StepRecipe
from pmm_core.training.step import build_optimizers, train_step

HOST_READS = "aten::_local_scalar_dense"


def profile_step(method: str, size: int, batch: int, device: torch.device, rows: int) -> dict:
    options = TrainingOptions(method=method, batch_size=batch, model=model_options("small"),
                              pix2pix={"sources": ["T1"], "target": "T1C"})  # pix2pix's one task
    recipe = StepRecipe.of(options, device)
    torch.manual_seed(0)
    model = recipe.precision.prepare_model(method_of(options).build(options).to(device))
    optimizers = build_optimizers(model, 1e-3, loss_scaling=recipe.precision.needs_loss_scaling)
    availability = torch.tensor([availability_vector(("T1", "T2", "T1C", "FLAIR"))] * batch, dtype=torch.float32)
    image = (torch.rand(batch, 6, size, size) * availability[:, :, None, None]).to(device)
    ids = torch.zeros(batch, dtype=torch.int64, device=device)
    rng = np.random.default_rng(0)

    def step() -> None:
        condition = recipe.method.condition(availability, rng, options, 0.0)
        train_step(model, optimizers, image, availability, ids, condition.sc, options.losses,
                   precision=recipe.precision, outputs=condition.outputs, objective=recipe.objective)

    step()  # warm-up: allocator, oneDNN/cuDNN kernel choice
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as profiler:
        step()
    reads = [e for e in profiler.events() if e.name == HOST_READS and not _in_optimizer(e)]
    table = profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)
    return {"method": method, "precision": recipe.precision.name, "layout": recipe.precision.layout,
            "host_reads": len(reads), "device_syncs": _device_syncs(step) if device.type == "cuda" else None,
            "table": table}


def _in_optimizer(event) -> bool:
    while event is not None:
        if event.name.startswith("Optimizer."):  # torch.optim's own record_function around step()
            return True
        event = event.cpu_parent
    return False


def _device_syncs(step) -> int:
    """Synchronizing CUDA calls of one step, as torch's sync debug mode reports them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchronizing" in str(w.message).lower() for w in caught)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="crop size (the demo's: 64)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--rows", type=int, default=12, help="operators in each table")
    parser.add_argument("--methods", nargs="+", default=["pmm-synth", "pix2pix", "mmgan"])
    args = parser.parse_args(argv)
    device = default_device()
    results = [profile_step(m, args.size, args.batch_size, device, args.rows) for m in args.methods]
    table = ["| method | precision | host reads per step (outside Adam) | CUDA syncs per step |", "|---|---|---|---|"]
    table += [f"| {r['method']} | {r['precision']} {r['layout']} | {r['host_reads']} | "
              f"{'n/a (CPU)' if r['device_syncs'] is None else r['device_syncs']} |" for r in results]
    for r in results:
        table += ["", f"{r['method']}: top operators of one step (self CPU time)", "", "```", r["table"], "```"]
    write_results("step_profile", {"config": vars(args), "rows": [{k: v for k, v in r.items()} for r in results]},
                  table)


if __name__ == "__main__":
    main()
