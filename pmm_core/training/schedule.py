"""The paper's learning-rate schedule: "All networks are trained for 200 epochs ... The initial
learning rate is set to 2×10^-4 and linearly decays to zero after 50 epochs."

The rate is the base rate until `decay_start` epochs are done, then falls linearly, step by
step, to 0 at the end of the last epoch. It is a function of how far training has got (epochs
as a fraction), not a stateful scheduler, so a resumed run, a federated site in its tenth round
and a DDP rank all compute the same rate from the step they are at, and nothing has to be saved.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from pmm_core.config.training import TrainingOptions


@dataclass(frozen=True)
class LearningRateSchedule:
    base: float            # the rate of the constant phase
    epochs: int            # training ends (rate 0) after this many epochs
    decay_start: float     # epochs at the base rate before the linear decay

    @classmethod
    def of(cls, options: TrainingOptions, epochs: int | None = None) -> "LearningRateSchedule":
        """The options' schedule; over `epochs` instead of `options.epochs` (a personalization run),
        the decay starts at the same fraction of training."""
        if epochs is None or epochs == options.epochs:
            return cls(options.learning_rate, options.epochs, float(options.decay_start))
        return cls(options.learning_rate, epochs, options.decay_start * epochs / options.epochs)

    def rate(self, epochs_done: float) -> float:
        """The rate after `epochs_done` epochs (fractional: step / steps per epoch)."""
        if epochs_done < self.decay_start or self.epochs <= self.decay_start:
            return self.base
        return self.base * max(0.0, 1.0 - (epochs_done - self.decay_start) / (self.epochs - self.decay_start))

    def apply(self, optimizers: list[torch.optim.Optimizer], epochs_done: float) -> None:
        """Set every optimizer to the rate after `epochs_done` epochs (before a training step)."""
        set_learning_rate(optimizers, self.rate(epochs_done))


def set_learning_rate(optimizers: list[torch.optim.Optimizer], rate: float) -> None:
    """Every parameter group of every optimizer at `rate` (the generator and the discriminators
    follow one schedule, as in the paper)."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] = rate
