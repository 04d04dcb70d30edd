"""The paper's centralized trainer: MCBS batches, the shared training step, validation every
epoch, atomic `last`/`best` checkpoints, exact resume, MLflow logging (main rank only).

Resume is exact: a checkpoint records the epoch and how many of this epoch's batches are done;
the batch sampler is deterministic per (seed, epoch), so the resumed run starts at the next
batch, and the synthesis-condition RNG of every rank is restored, so the same steps follow.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.utils.data import DataLoader

from pmm.centralized.distributed import DistributedContext
from pmm_core.config.training import TrainingOptions
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.records import SiteRecord
from pmm_core.training.sampling import make_sampler
from pmm_core.errors import PmmError
from pmm_core.evaluation.montage import montage_figure
from pmm_core.evaluation.validation import validate
from pmm.centralized.fine_tune import StartingPoint
from pmm_core.build_info import build_info
from pmm_core.training.checkpoint import save_checkpoint
from pmm_core.training.epoch import run_epoch
from pmm_core.training.schedule import LearningRateSchedule
from pmm_core.methods.recipe import StepRecipe, batch_step
from pmm_core.training.step import build_optimizers

if TYPE_CHECKING:  # MLflow is imported by whoever makes the tracker: a run without one never loads it
    from pmm.tracking import RunTracker

CHECKPOINT_FORMAT = 1


class RunSettings(BaseModel):
    """How one run proceeds around the training options: where it writes, when it stops and saves."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    run_dir: Path
    max_steps: int | None = Field(None, ge=1, description="stop (with a checkpoint) after this many steps in total")
    checkpoint_every: int = Field(100, ge=0, description="steps between `last` checkpoints inside an epoch; 0: none")
    log_every: int = Field(10, ge=1)
    val_max_cases: int | None = Field(None, ge=1)
    progress: bool = True


@dataclass
class TrainOutcome:
    global_step: int
    epoch: int
    best_score: float
    stopped_early: bool
    last_checkpoint: Path


def site_records(site_dirs: list[Path]) -> list[SiteRecord]:
    return [SiteRecord.of(site_dir, load_fingerprint(site_dir)) for site_dir in site_dirs]


class CentralTrainer:
    def __init__(self, options: TrainingOptions, site_dirs: list[Path], settings: RunSettings,
                 dist: DistributedContext, tracker: RunTracker | None = None):
        self.options, self.settings, self.dist, self.tracker = options, settings, dist, tracker
        self.site_dirs = [Path(d) for d in site_dirs]
        self.sites = site_records(self.site_dirs)
        self.recipe = StepRecipe.of(options, dist.device)  # the method, its objective, the precision
        self.method = self.recipe.method
        self.dataset = SliceDataset(self.site_dirs, "train", options.min_brain_fraction,
                                    required=self.method.required(options),
                                    lesion_maps=options.pathology.lesion_weight > 0,
                                    compartments=options.pathology.lesion_compartments)
        if len(self.dataset) == 0:
            needed = self.method.required(options)
            raise PmmError(f"no training slices{' of cases with ' + ', '.join(needed) if needed else ''} in "
                           f"{', '.join(str(d) for d in self.site_dirs)} (method {options.method})")
        self.sampler = make_sampler(self.dataset, options, dist.rank, dist.world_size)
        self.loader = DataLoader(self.dataset, batch_sampler=self.sampler, num_workers=options.num_workers,
                                 pin_memory=dist.device.type == "cuda")
        torch.manual_seed(options.seed)  # same initial weights on every rank
        self.model = self.recipe.precision.prepare_model(self.method.build(options).to(dist.device))
        self.optimizers = build_optimizers(self.model, options.learning_rate, options.betas,
                                           self.recipe.precision.needs_loss_scaling)
        self.started_from: dict[str, str] | None = None  # the package a fine-tuning run started from
        self.steps_per_epoch = len(self.sampler)
        self.schedule = LearningRateSchedule.of(options)
        self.condition_rng = np.random.default_rng([options.seed, dist.rank])
        self.epoch, self.step_in_epoch, self.global_step, self.best_score = 0, 0, 0, float("-inf")

    # -- checkpoints ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.options.model_dump(mode="json"),
            "sites": [site.model_dump() for site in self.sites],
            "model": self.model.state_dict(),
            "optimizer_generator": self.optimizers.generator.state_dict(),
            "optimizer_discriminator": self.optimizers.discriminator.state_dict(),
            "scaler": self.optimizers.scaler.state_dict(),
            "epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
            "best_score": self.best_score,
            "best_by": "val PSNR" if self.best_score > float("-inf") else "last epoch (nothing to validate)",
            "world_size": self.dist.world_size,
            "rng": {"torch": torch.get_rng_state(), "python": random.getstate(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                    "conditions": self.dist.gather(self.condition_rng.bit_generator.state)},
            "mlflow_run_id": self.tracker.run_id if self.tracker else None,
            "pmm": build_info(),  # the code that trained it, for the exported package's card
            **({"init": self.started_from} if self.started_from else {}),
        }

    def start_from(self, start: StartingPoint) -> None:
        """Fine-tuning: begin from an exported package's weights instead of a random
        initialisation; where it started (name, SHA-256) goes into every checkpoint."""
        start.load_into(self.model)
        self.started_from = dict(start.origin)

    def restore(self, checkpoint: dict[str, Any]) -> None:
        self.model.load_state_dict(checkpoint["model"])
        self.started_from = checkpoint.get("init")
        self.optimizers.generator.load_state_dict(checkpoint["optimizer_generator"])
        self.optimizers.discriminator.load_state_dict(checkpoint["optimizer_discriminator"])
        self.optimizers.scaler.load_state_dict(checkpoint["scaler"])
        self.epoch, self.step_in_epoch = checkpoint["epoch"], checkpoint["step_in_epoch"]
        self.global_step, self.best_score = checkpoint["global_step"], checkpoint["best_score"]
        torch.set_rng_state(checkpoint["rng"]["torch"])
        random.setstate(checkpoint["rng"]["python"])
        if checkpoint["rng"].get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["rng"]["cuda"])
        states = checkpoint["rng"]["conditions"]
        if len(states) == self.dist.world_size:
            self.condition_rng.bit_generator.state = states[self.dist.rank]

    def save(self, name: str) -> Path:
        path = self.settings.run_dir / f"{name}.pt"
        state = self.state()  # collective (gathers RNG states): every rank calls it
        if self.dist.is_main:
            save_checkpoint(state, path)
        return path

    # -- training ------------------------------------------------------------------------------
    def _step(self, batch) -> dict[str, float]:
        self.schedule.apply(self.optimizers.all(), self.global_step / max(self.steps_per_epoch, 1))  # resumes need no state
        return batch_step(self.model, self.optimizers, batch, self.condition_rng, self.recipe, self.dist.device,
                          self.global_step / max(self.steps_per_epoch, 1),
                          synchronize=self.dist.average_gradients if self.dist.active else None)

    def train(self) -> TrainOutcome:
        stopped = False
        while self.epoch < self.options.epochs and not stopped:
            stopped = self._train_epoch()
            if not stopped:
                self.epoch, self.step_in_epoch = self.epoch + 1, 0
                self._validate_and_checkpoint()
        last = self.save("last") if stopped else self.settings.run_dir / "last.pt"
        return TrainOutcome(self.global_step, self.epoch, self.best_score, stopped, last)

    def _train_epoch(self) -> bool:
        """One epoch (or its rest after a resume); True when `max_steps` stopped it."""
        self.sampler.set_epoch(self.epoch, start_batch=self.step_in_epoch)

        def after_step(metrics: dict[str, float], rate: float) -> bool:
            self.step_in_epoch += 1
            self.global_step += 1
            if self.tracker and self.global_step % self.settings.log_every == 0:
                lr = self.optimizers.generator.param_groups[0]["lr"]
                self.tracker.log_metrics({f"train/{k}": v for k, v in metrics.items()} |
                                         {"train/lr": lr, "train/slices_per_s": rate}, self.global_step)
            if self.settings.max_steps is not None and self.global_step >= self.settings.max_steps:
                return True
            if self.settings.checkpoint_every and self.global_step % self.settings.checkpoint_every == 0:
                self.save("last")
            return False

        totals = run_epoch(self.loader, self._step, f"epoch {self.epoch + 1}/{self.options.epochs}",
                           show_progress=self.settings.progress and self.dist.is_main, total=self.steps_per_epoch,
                           initial=self.step_in_epoch, world_size=self.dist.world_size, after_step=after_step)
        if totals.stopped:
            return True
        if self.tracker and totals.steps:
            self.tracker.log_metrics({f"train/epoch/{k.split('/')[-1]}": v for k, v in totals.means().items()},
                                     self.global_step)
        return False

    def validate(self) -> float:
        """Val-split PSNR/SSIM on every site's tasks (pmm_core.evaluation.validation, as every
        federated site does); logs metrics and montages; returns the mean PSNR."""
        validation = validate(self.model, self.site_dirs, self.options, self.dist.device, self.settings.val_max_cases)
        if self.tracker:
            self.tracker.log_metrics(validation.metrics | {"val/mean_psnr": validation.score}, self.global_step)
            import matplotlib.pyplot as plt

            for site, examples in validation.examples.items():
                if examples:
                    figure = montage_figure(site, examples)
                    self.tracker.log_figure(figure, f"validation/{site}_epoch{self.epoch:03d}.png")
                    plt.close(figure)
        return validation.score

    def _validate_and_checkpoint(self) -> None:
        score = self.validate() if self.dist.is_main else 0.0
        score = self.dist.gather(score)[0]
        # nothing to validate (an empty val split, or no val case with a task's modalities):
        # best.pt follows the last epoch, so it is never missing or stale (the run says so)
        improved = score > self.best_score or score == self.best_score == float("-inf")
        if improved:
            self.best_score = score
        self.save("last")
        if improved:
            self.save("best")
        self.dist.barrier()
