"""A trainer's step with its method: `StepRecipe` (what a trainer fixes once) and `batch_step`
(one loader batch: the method draws its synthesis condition, then pmm_core.training.step's
`train_step` with the method's objective). Every trainer steps through here (centralized,
federated site, benchmarks), so all of them draw conditions from the same rule and RNG stream.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from pmm_core.config.training import TrainingOptions
from pmm_core.methods import Method, method_of
from pmm_core.training.mirroring import mirrored, transposed
from pmm_core.training.objective import Objective
from pmm_core.training.precision import Precision, resolve_precision
from pmm_core.training.step import Optimizers, train_step


@dataclass(frozen=True)
class StepRecipe:
    """What a trainer fixes once and every step reuses: the method (how a batch's condition is
    drawn), its objective (built once, not per step), its options and the precision."""

    method: Method
    objective: Objective
    options: TrainingOptions
    precision: Precision

    @classmethod
    def of(cls, options: TrainingOptions, device: torch.device | str) -> "StepRecipe":
        method = method_of(options)
        return cls(method, method.objective(options), options,
                   resolve_precision(options.precision, options.channels_last, device))



def batch_step(model: torch.nn.Module, optimizers: Optimizers, batch, condition_rng: np.random.Generator,
               recipe: StepRecipe, device: torch.device, epochs_done: float = 0.0,
               synchronize: Callable[[Iterable[torch.nn.Parameter]], None] | None = None) -> dict[str, float]:
    """One loader batch (collated `SliceSample`s: image, availability, dataset_id): the recipe's
    method draws its synthesis condition from the batch's availability (MM-GAN's curriculum from
    `epochs_done`; the slices mirrored at random with `[pathology] mirroring`, the batch
    transposed at random with `transposing`), then the batch
    trains on `device` with that method's losses. Every trainer
    steps through here, so all of them draw conditions from the same rule and the same RNG stream."""
    condition = recipe.method.condition(batch.availability, condition_rng, recipe.options, epochs_done)
    image, lesion = batch.image, batch.lesion
    if recipe.options.pathology.mirroring:
        image, lesion = mirrored(image, lesion, condition_rng)
    if recipe.options.pathology.transposing:
        image, lesion = transposed(image, lesion, condition_rng)
    weight = recipe.options.pathology.lesion_weight
    pixels = 1.0 + weight * lesion[:, None].float() if weight > 0 else None
    return train_step(model, optimizers, image.to(device, non_blocking=True), batch.availability,
                      batch.dataset_id.to(device, non_blocking=True), condition.sc, recipe.options.losses,
                      precision=recipe.precision, synchronize=synchronize, outputs=condition.outputs,
                      objective=recipe.objective, pixel_weights=pixels)
