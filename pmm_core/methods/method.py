"""What a training method is: its networks, how a batch's condition is drawn, and its losses.

Everything else is shared by every method: the trainer loop, MCBS, checkpoints, MLflow
tracking, validation, evaluation and synthesis all see a model through one interface,
`model(x, sc, dataset_ids, outputs) -> (B, 6, H, W)` (six channels in the fixed modality order,
zero where nothing was synthesized), plus the `embedding` / `generator` / `discriminators`
submodules the parameter groups are read from. A method is one `Method` value; its options are
a table of the training options (`[pix2pix]`, `[mmgan]`), never a subclass.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pmm_core.config.training import TrainingOptions
from pmm_core.tasks import Task
from pmm_core.training.objective import Objective


@dataclass(frozen=True)
class Condition:
    """One batch's synthesis condition: the sources, and the modalities decoded and supervised
    (None: every modality the batch has)."""

    sc: torch.Tensor
    outputs: torch.Tensor | None = None


def _every_task(options: TrainingOptions, tasks: list[Task]) -> list[Task]:
    return tasks


def _no_refusal(options: TrainingOptions, sources: list[str], target: str) -> str | None:
    return None


def _no_requirement(options: TrainingOptions) -> tuple[str, ...]:
    return ()


def _any_target(options: TrainingOptions) -> tuple[str, ...] | None:
    return None


def _all_inputs(options: TrainingOptions, available: list[str], target: str) -> list[str]:
    return available


@dataclass(frozen=True)
class Method:
    name: str                                   # as in `--method` and the checkpoint's config
    label: str                                  # as in tables: PMM-Synth, pix2pix, MM-GAN
    build: Callable[[TrainingOptions], nn.Module]
    # (batch availability (B, 6), RNG, options, epochs done) -> the batch's condition
    condition: Callable[[torch.Tensor, np.random.Generator, TrainingOptions, float], Condition]
    objective: Callable[[TrainingOptions], Objective]
    required: Callable[[TrainingOptions], tuple[str, ...]] = _no_requirement  # a training case must have these
    tasks: Callable[[TrainingOptions, list[Task]], list[Task]] = _every_task  # of a site's tasks, those it runs
    refusal: Callable[[TrainingOptions, list[str], str], str | None] = _no_refusal  # why it cannot run a task
    synthesizes: Callable[[TrainingOptions], tuple[str, ...] | None] = _any_target  # None: any it was trained on
    # of a case's available modalities, those it synthesizes a target from
    inputs: Callable[[TrainingOptions, list[str], str], list[str]] = _all_inputs
