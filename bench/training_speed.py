"""Timing pmm's real training step (`batch_step`: the condition, then train_step) on batches from a loader.

Every training benchmark goes through here, so they all time the same thing: a generator
update and a discriminator update, both Adam, on whatever batches the sampler makes. The
first steps are a warm-up (allocator, oneDNN kernel choice) and are not counted.
"""
from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from pmm_core.config.model import ModelOptions
from pmm_core.config.training import TrainingOptions
from pmm_core.models import build_model
from pmm_core.models.pmm_synth import PMMSynth
from pmm_core.methods.recipe import StepRecipe, batch_step
from pmm_core.training.step import build_optimizers

# The demo's model (a few minutes of CPU get somewhere) and the paper's (34 M parameters; about 2.6 s per batch-1 step at 192x192 on 2 CPU cores).
SMALL = dict(base_channels=16, residual_blocks=3, embedding_dim=64, modulation_hidden=32,
             discriminator_channels=16, discriminator_layers=3)
PAPER: dict = {}


def model_options(width: str, **changes) -> ModelOptions:
    if width not in ("small", "paper"):
        raise ValueError(f"model {width!r}: use 'small' or 'paper'")
    return ModelOptions(**(SMALL if width == "small" else PAPER), **changes)


@dataclass
class Rate:
    steps: int
    slices: int
    seconds: float

    @property
    def slices_per_s(self) -> float:
        return self.slices / self.seconds

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.steps

    def row(self) -> dict:
        return {"steps": self.steps, "slices": self.slices, "seconds": round(self.seconds, 2),
                "slices_per_s": round(self.slices_per_s, 2), "seconds_per_step": round(self.seconds_per_step, 3),
                "seconds_per_1000_slices": round(1000 / self.slices_per_s, 1)}


def endless(batches: Iterable) -> Iterator:
    """Batches from a re-iterable loader without end (a new pass when one ends)."""
    return itertools.chain.from_iterable(itertools.repeat(batches))


class StepTimer:
    """One model and its optimizers on a device, trained step by step on given batches."""

    def __init__(self, model: torch.nn.Module, device: torch.device, learning_rate: float = 1e-3, seed: int = 0,
                 options: TrainingOptions | None = None):
        self.device = device
        # the method (its condition and losses) and the precision the steps train with
        self.recipe = StepRecipe.of(options or TrainingOptions(), device)
        self.model = self.recipe.precision.prepare_model(model.to(device).train())
        self.optimizers = build_optimizers(self.model, learning_rate,
                                           loss_scaling=self.recipe.precision.needs_loss_scaling)
        self.rng = np.random.default_rng(seed)

    @classmethod
    def build(cls, options: ModelOptions, device: torch.device, seed: int = 0, learning_rate: float = 1e-3,
              training: TrainingOptions | None = None) -> "StepTimer":
        torch.manual_seed(seed)
        return cls(build_model(options), device, learning_rate, seed, training)

    def step(self, batch) -> int:
        batch_step(self.model, self.optimizers, batch, self.rng, self.recipe, self.device)
        return batch.image.shape[0]

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, batches: Iterator, seconds: float, min_steps: int = 2, warmup: int = 1,
            max_steps: int | None = None) -> Rate:
        """Train for about `seconds` (at least `min_steps` counted steps) after `warmup` steps."""
        for _ in range(warmup):
            self.step(next(batches))
        self._sync()
        steps = slices = 0
        started = time.perf_counter()
        while steps < min_steps or time.perf_counter() - started < seconds:
            slices += self.step(next(batches))
            steps += 1
            if max_steps is not None and steps >= max_steps:
                break
        self._sync()
        return Rate(steps, slices, time.perf_counter() - started)


def add_training_options(parser: argparse.ArgumentParser, seconds: float = 20.0) -> None:
    """The options every training-speed benchmark shares: sizes, model, MCBS batch, time per measurement."""
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 192], help="crop sizes timed")
    parser.add_argument("--model", default="small", choices=["small", "paper"], help="the demo's model or the paper's")
    parser.add_argument("--batch-size", type=int, default=16, help="MCBS batch size (the paper's: 16)")
    parser.add_argument("--seconds", type=float, default=seconds, help="timed training seconds per measurement")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
