"""One pass over a loader of MCBS batches, shared by the centralized trainer and the client.

Both run the same loop (batch -> training step -> loss sums -> progress bar with slices/s);
only what happens after each step differs (MLflow logging, checkpoints, a step limit), so
that is a hook, and the loop itself lives here once.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

StepFunction = Callable[[Any], dict[str, float]]
# after_step(metrics, slices_per_second) -> True to stop the epoch here
AfterStep = Callable[[dict[str, float], float], bool]


@dataclass
class EpochTotals:
    """Loss sums over the steps taken, so callers can report means; `stopped` if a hook ended it early."""

    sums: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    slices: int = 0
    stopped: bool = False

    def add(self, metrics: dict[str, float], slices: int) -> None:
        self.steps += 1
        self.slices += slices
        for key, value in metrics.items():
            self.sums[key] = self.sums.get(key, 0.0) + value

    def merge(self, other: "EpochTotals") -> None:
        for key, value in other.sums.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.steps += other.steps
        self.slices += other.slices
        self.stopped = self.stopped or other.stopped

    def means(self) -> dict[str, float]:
        return {key: value / max(self.steps, 1) for key, value in self.sums.items()}


def run_epoch(batches: Iterable, step: StepFunction, description: str, show_progress: bool = True,
              total: int | None = None, initial: int = 0, world_size: int = 1,
              after_step: AfterStep | None = None) -> EpochTotals:
    """Train on every batch of `batches` (or until `after_step` says stop).

    `world_size` counts the slices other DDP ranks trained in the same step, so slices/s is the
    whole job's rate; `initial` and `total` place the progress bar when an epoch resumes.
    """
    totals = EpochTotals()
    started = time.perf_counter()
    bar = tqdm(batches, desc=description, unit="batch", initial=initial, total=total, disable=not show_progress)
    try:
        for batch in bar:
            metrics = step(batch)
            totals.add(metrics, batch.image.shape[0] * world_size)
            rate = totals.slices / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix(g=f"{metrics['loss/g']:.3f}", syn=f"{metrics['loss/syn']:.3f}",
                            d=f"{metrics['loss/d']:.3f}", slices_s=f"{rate:.1f}")
            if after_step is not None and after_step(metrics, rate):
                totals.stopped = True
                break
    finally:
        bar.close()
    return totals
