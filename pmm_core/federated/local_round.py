"""One site's part of a federated round: load the global shared parameters into the site's own
model, train E local epochs with MCBS and the shared training step, validate on the site's
val split, save the personal state, and hand back shared parameters and scalar metrics only.

The same function serves `--personalize-only` (a new site fitting its embedding, modulation it
keeps, and discriminators against a frozen global model): only the personal groups train.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from pmm_core.config.training import TrainingOptions
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.training.sampling import make_sampler
from pmm_core.evaluation.validation import validate
from pmm_core.federated.initial_model import build_site_model
from pmm_core.federated.partition import PartitionOptions, load_named, personal_state, shared_arrays, trained_groups
from pmm_core.federated.site_state import (BEFORE_FILE, SiteState, keep_state_before_round, load_site_state,
                                           save_site_state)
from pmm_core.models.pmm_synth import PMMSynth
from pmm_core.training.epoch import EpochTotals, run_epoch
from pmm_core.training.schedule import LearningRateSchedule
from pmm_core.methods.recipe import StepRecipe, batch_step
from pmm_core.training.step import Optimizers, build_optimizers


@dataclass
class LocalRoundResult:
    shared: dict[str, np.ndarray]     # what travels back (empty for personalize-only)
    metrics: dict[str, float]         # scalars: losses, slices, val PSNR/SSIM per task
    num_examples: int                 # training slices: the FedAvg weight


@dataclass
class LocalRoundSpec:
    site_dir: Path                    # the site's prepared cache folder
    state_dir: Path                   # the state folder root; the site's is <state_dir>/<SITE>
    options: TrainingOptions
    partition: PartitionOptions
    local_epochs: int
    round_label: str = ""             # recorded in the site's history, e.g. "fed-20261125:3"
    schedule_epoch: int | None = None  # where on the federation's schedule the round starts (the server says)
    round_key: str = ""               # this round of this federation (its uid): a repeated round is taken back
    personalize_only: bool = False
    device: str = "cpu"
    progress: bool = True
    val_max_cases: int | None = None


def _restore(state: SiteState | None, spec: LocalRoundSpec, optimizers: Optimizers, condition_rng: np.random.Generator) -> None:
    """Optimizer moments and the condition RNG from the site's last round (the generator side's
    Adam moments only when the same parameters trained then: a personalize-only round trains fewer)."""
    if state is None:
        return
    same_mode = bool(state.history) and state.history[-1].get("personalize_only", False) == spec.personalize_only
    if same_mode:
        _load_moments(optimizers.generator, state.optimizer_generator)
    _load_moments(optimizers.discriminator, state.optimizer_discriminator)
    if state.condition_rng is not None:
        condition_rng.bit_generator.state = state.condition_rng


def _load_moments(optimizer: torch.optim.Optimizer | None, saved: dict | None) -> None:
    """Saved Adam moments, when they are for the same parameters; a state saved by a version of
    pmm that trained another set (before --personal-modulation trained PFM) starts afresh."""
    if optimizer is None or saved is None:
        return
    try:
        optimizer.load_state_dict(saved)
    except ValueError:
        pass


def round_schedule(spec: LocalRoundSpec, epochs_done: int) -> tuple[LearningRateSchedule, int]:
    """The schedule this round follows and where on it the round starts (epochs).

    A federated site follows the paper's schedule over the whole federation: the server sets
    `options.epochs` to rounds x local epochs, and the site is `epochs_done` into it. A
    personalization run is its own short training: its schedule spans its own epochs, from 0.
    """
    if spec.personalize_only:
        return LearningRateSchedule.of(spec.options, epochs=spec.local_epochs), 0
    return LearningRateSchedule.of(spec.options), epochs_done


def _train_epochs(model: PMMSynth, optimizers: Optimizers, spec: LocalRoundSpec, site: str, first_epoch: int,
                  condition_rng: np.random.Generator, recipe: StepRecipe,
                  device: torch.device) -> tuple[dict[str, float], int, int]:
    """E local epochs of MCBS batches through the shared training step → (loss sums, steps, slices)."""
    options = spec.options
    schedule, schedule_start = round_schedule(spec, first_epoch)
    dataset = SliceDataset([spec.site_dir], "train", options.min_brain_fraction,
                           required=recipe.method.required(options), lesion_maps=options.pathology.lesion_weight > 0,
                           compartments=options.pathology.lesion_compartments)
    if len(dataset) == 0:
        raise ValueError(f"site {site}: no training slices in {spec.site_dir}")
    sampler = make_sampler(dataset, options)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=options.num_workers)
    steps_per_epoch, steps_done = max(len(sampler), 1), 0

    def step(batch) -> dict[str, float]:
        nonlocal steps_done
        schedule.apply(optimizers.all(), schedule_start + steps_done / steps_per_epoch)
        steps_done += 1
        return batch_step(model, optimizers, batch, condition_rng, recipe, device,
                          schedule_start + (steps_done - 1) / steps_per_epoch)

    totals = EpochTotals()
    model.train()
    for local_epoch in range(spec.local_epochs):
        sampler.set_epoch(first_epoch + local_epoch)  # a new order every epoch, across rounds too
        totals.merge(run_epoch(loader, step, f"{site} local epoch {local_epoch + 1}/{spec.local_epochs}",
                               show_progress=spec.progress))
    return totals.sums, totals.steps, len(dataset)


def validation_metrics(model: PMMSynth, site_dir: Path, options: TrainingOptions, device: str | torch.device,
                       max_cases: int | None = None) -> tuple[dict[str, float], int]:
    """The site's val metrics under the centralized names and how many (case, task) pairs were
    scored (the weight of this site's numbers in the server's average)."""
    validation = validate(model, [site_dir], options, device, max_cases)
    return validation.metrics, validation.cases


def run_local_round(spec: LocalRoundSpec, shared: dict[str, np.ndarray] | None,
                    echo: Callable[[str], None] = print) -> LocalRoundResult:
    fingerprint = load_fingerprint(spec.site_dir)
    site, dataset_id = fingerprint.site, fingerprint.dataset_id
    options, device = spec.options, torch.device(spec.device)
    model_config = options.model.model_dump(mode="json")
    model = build_site_model(options)
    state = load_site_state(spec.state_dir, site, model_config)
    if state is not None and spec.round_key and state.history and state.history[-1].get("key") == spec.round_key:
        echo(f"{site}: round {spec.round_label} was trained for a server that never aggregated it; training it "
             "again from the state before it")
        state = load_site_state(spec.state_dir, site, model_config, BEFORE_FILE)
    else:
        keep_state_before_round(spec.state_dir, site)
    if state is not None:
        load_named(model, state.personal, spec.partition.personal)
    if shared is not None:
        load_named(model, shared, spec.partition.shared)
    recipe = StepRecipe.of(options, device)
    model = recipe.precision.prepare_model(model.to(device))

    optimizers = build_optimizers(model, options.learning_rate, options.betas, recipe.precision.needs_loss_scaling,
                                  groups=trained_groups(spec.partition, spec.personalize_only))
    condition_rng = np.random.default_rng([options.seed, dataset_id])
    _restore(state, spec, optimizers, condition_rng)
    epochs_done = state.epochs_done if state is not None else 0
    # The schedule belongs to the federation: a site's own count outlives it (a second federation
    # on the same state folder would start where the first ended, at rate 0) and misses the rounds
    # a late or absent site did not train.
    first_epoch = spec.schedule_epoch if spec.schedule_epoch is not None else epochs_done

    started = time.perf_counter()
    sums, steps, num_examples = _train_epochs(model, optimizers, spec, site, first_epoch, condition_rng, recipe, device)
    seconds = time.perf_counter() - started
    metrics = {f"train/epoch/{k.split('/')[-1]}": v / max(steps, 1) for k, v in sums.items()}
    metrics |= {"train/seconds": seconds, "train/steps": float(steps)}
    metrics |= validation_metrics(model, spec.site_dir, options, device, spec.val_max_cases)[0]

    history = (state.history if state is not None else []) + [
        {"round": spec.round_label, "key": spec.round_key, "epochs": spec.local_epochs, "personalize_only": spec.personalize_only,
         "val_mean_psnr": metrics.get("val/mean_psnr"), "time": time.time()}]
    save_site_state(SiteState(site=site, model_config=model_config, personal=personal_state(model.cpu(), spec.partition),
                              optimizer_generator=optimizers.generator.state_dict() if optimizers.generator else None,
                              optimizer_discriminator=optimizers.discriminator.state_dict() if optimizers.discriminator else None,
                              condition_rng=condition_rng.bit_generator.state,
                              epochs_done=epochs_done + spec.local_epochs, history=history), spec.state_dir)
    psnr = f"val mean PSNR {metrics['val/mean_psnr']:.2f} dB" if "val/mean_psnr" in metrics else "no val task"
    echo(f"{site}: {spec.local_epochs} local epoch(s), {steps} steps in {seconds:.0f} s, {psnr}")
    return LocalRoundResult(shared={} if spec.personalize_only else shared_arrays(model, spec.partition),
                            metrics=metrics, num_examples=num_examples)
