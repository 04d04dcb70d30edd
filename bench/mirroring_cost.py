"""What `[pathology] mirroring` and `transposing` cost a training step: the random flips and the
random transposition of a batch against the step they feed.

For each size (the experiments' 64x64 at batch 4, native 192x192 crops at the paper's batch 16):
milliseconds to mirror one batch (6 channels and its lesion weights, `pmm_core.training.mirroring`),
to mirror and transpose it (the default recipe, a transposition drawn every time, so its copy is
always paid), and of one default-recipe training step of the small model on the same batch, in the
precision `auto` picks here; the ratio is what the augmentation adds to a step. Medians of `--repeats`.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from bench.common import write_results
from bench.training_speed import default_device, model_options
from pmm_core.config.training import TrainingOptions
from pmm_core.methods import method_of
from pmm_core.methods.recipe import StepRecipe
from pmm_core.modalities import availability_vector
from pmm_core.training.mirroring import mirrored, transposed
from pmm_core.training.step import build_optimizers, train_step

PAPER_ARGS = ["--model", "paper"]


def _median_ms(call, repeats: int) -> float:
    call()  # warm-up: allocator, oneDNN/cuDNN kernel choice
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(size: int, batch: int, width: str, repeats: int, device: torch.device) -> dict:
    options = TrainingOptions(batch_size=batch, model=model_options(width), pathology={"mirroring": True, "transposing": True})
    recipe = StepRecipe.of(options, device)
    torch.manual_seed(0)
    model = recipe.precision.prepare_model(method_of(options).build(options).to(device))
    optimizers = build_optimizers(model, 1e-3, loss_scaling=recipe.precision.needs_loss_scaling)
    availability = torch.tensor([availability_vector(("T1", "T2", "T1C", "FLAIR"))] * batch, dtype=torch.float32)
    image = torch.rand(batch, 6, size, size) * availability[:, :, None, None]
    lesion = (torch.rand(batch, size, size) > 0.95).float()
    ids = torch.zeros(batch, dtype=torch.int64, device=device)
    rng = np.random.default_rng(0)

    def step() -> None:
        condition = recipe.method.condition(availability, rng, options, 0.0)
        train_step(model, optimizers, image.to(device), availability, ids, condition.sc, options.losses,
                   precision=recipe.precision, outputs=condition.outputs, objective=recipe.objective,
                   pixel_weights=(1.0 + 5.0 * lesion[:, None]).to(device))

    always = _AlwaysTransposes()  # transposed() turns the batch when its draw is under 1/2: this one's always is
    flip_ms = _median_ms(lambda: mirrored(image, lesion, rng), repeats * 10)
    both_ms = _median_ms(lambda: transposed(*mirrored(image, lesion, rng), always), repeats * 10)
    step_ms = _median_ms(step, repeats)
    return {"size": size, "batch": batch, "mirror_ms": round(flip_ms, 3), "mirror_transpose_ms": round(both_ms, 3),
            "step_ms": round(step_ms, 1), "share": round(both_ms / step_ms, 5), "precision": recipe.precision.name}


class _AlwaysTransposes:
    """A stand-in for the trainer's generator whose every draw is 0.0, so a transposition is always timed."""

    def random(self) -> float:
        return 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("small", "paper"), default="small")
    parser.add_argument("--repeats", type=int, default=5, help="timed training steps per size")
    args = parser.parse_args(argv)
    device = default_device()
    rows = [measure(size, batch, args.model, args.repeats, device) for size, batch in ((64, 4), (192, 16))]
    table = ["| crop | batch | mirror a batch (ms) | mirror and transpose it (ms) | training step (ms) "
             "| the augmentation's share of a step |", "|---|---|---|---|---|---|"]
    table += [f"| {r['size']}x{r['size']} | {r['batch']} | {r['mirror_ms']} | {r['mirror_transpose_ms']} | {r['step_ms']} "
              f"| {r['share']:.2%} |" for r in rows]
    table += ["", f"Model: {args.model}, {rows[0]['precision']} on {device.type}; medians of {args.repeats} steps "
              f"and {args.repeats * 10} augmentations. Command: `python -m bench mirroring_cost`."]
    write_results("mirroring_cost", vars(args) | {"device": device.type, "rows": rows}, table)


if __name__ == "__main__":
    main()
