"""One training step (pix2pix order: generator update, then discriminator update).

`train_step` takes an `Objective` (pmm_core.training.objective) and knows no method: the
centralized trainer, the federated client and the benchmarks reach it through
`pmm_core.methods.recipe.batch_step`, where the method draws the batch's condition, with the
precision (pmm_core.training.precision: bfloat16 autocast and channels-last where the hardware
gains from them, float16 with loss scaling on older GPUs, float32 otherwise or on request).

A step never waits for the accelerator until it is done: which streams and discriminators run is
decided on the host from the CPU copies of the batch's availability and condition, and the five
losses come back in one transfer at the end, as plain floats callers can log anywhere.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from pmm_core.config.model import LossWeights
from pmm_core.models.parameter_groups import GROUP_NAMES, parameter_groups
from pmm_core.training.losses import LossMasks
from pmm_core.training.objective import Objective, selective_objective
from pmm_core.training.precision import Precision, resolve_precision

GENERATOR_GROUPS = ("embedding", "modulation", "generator")


@dataclass
class Optimizers:
    """Adam over the generator side and over the discriminators; either is None when none of its
    parameters train (a personalization run against shared, frozen discriminators)."""

    generator: torch.optim.Optimizer | None
    discriminator: torch.optim.Optimizer | None
    scaler: torch.amp.GradScaler

    def all(self) -> list[torch.optim.Optimizer]:
        return [o for o in (self.generator, self.discriminator) if o is not None]


def build_optimizers(model: torch.nn.Module, learning_rate: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999),
                     loss_scaling: bool = False, groups: tuple[str, ...] = GROUP_NAMES) -> Optimizers:
    """The one place that decides what trains: the parameters of `groups` (see
    pmm_core.models.parameter_groups) get `requires_grad` and an optimizer, every other parameter
    is frozen. The generator side's groups go to one Adam, the discriminators to another.
    `loss_scaling` (float16 autocast on CUDA, `Precision.needs_loss_scaling`) turns on the GradScaler."""
    unknown = sorted(set(groups) - set(GROUP_NAMES))
    if unknown:
        raise ValueError(f"unknown parameter group {unknown[0]!r}; groups are {', '.join(GROUP_NAMES)}")
    named = parameter_groups(model)
    for group, parameters in named.items():
        for parameter in parameters.values():
            parameter.requires_grad_(group in groups)
    generator_params = [p for g in GENERATOR_GROUPS if g in groups for p in named[g].values()]
    discriminator_params = list(named["discriminators"].values()) if "discriminators" in groups else []
    if not generator_params and not discriminator_params:
        raise ValueError(f"nothing to train: the groups {', '.join(groups) or '(none)'} hold no parameters")
    device = next(model.parameters()).device.type
    return Optimizers(
        generator=torch.optim.Adam(generator_params, lr=learning_rate, betas=betas) if generator_params else None,
        discriminator=torch.optim.Adam(discriminator_params, lr=learning_rate, betas=betas) if discriminator_params else None,
        scaler=torch.amp.GradScaler(device, enabled=loss_scaling and device == "cuda"),
    )


def _parameters(optimizer: torch.optim.Optimizer) -> list[torch.nn.Parameter]:
    return [p for group in optimizer.param_groups for p in group["params"]]


@contextmanager
def _frozen(module: torch.nn.Module) -> Iterator[None]:
    """`module` takes no gradient inside the block; afterwards every parameter has the flag it had
    before (a frozen, shared discriminator stays frozen)."""
    flags = [(parameter, parameter.requires_grad) for parameter in module.parameters()]
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


def train_step(model: torch.nn.Module, optimizers: Optimizers, image: torch.Tensor, availability: torch.Tensor,
               dataset_ids: torch.Tensor, sc: torch.Tensor, weights: LossWeights, precision: Precision | None = None,
               synchronize: Callable[[Iterable[torch.nn.Parameter]], None] | None = None,
               outputs: torch.Tensor | None = None, objective: Objective | None = None,
               pixel_weights: torch.Tensor | None = None) -> dict[str, float]:
    """image (B, 6, H, W) zero-filled where missing, on the training device; availability (B, 6),
    sc (6,) and outputs (6,) best on the CPU (where the sampler made them: then nothing here waits
    for the device); dataset_ids (B,).

    Only the decoders of modalities the batch has run (`outputs`, by default the union of the
    batch's availability: one set under MCBS); the others would get no loss. A benchmark passes
    all ones to time the six-decoder step it replaced.

    `precision` (default float32, contiguous) is the autocast and memory layout; the model must
    already be in its layout (`Precision.prepare_model`). `objective` is the method's losses
    (default: PMM-Synth's with `weights`).

    `pixel_weights` (B, 1, H, W), on the CPU or the device: per-pixel L1 weights (lesion weighting).

    `synchronize` (several processes) averages the gradients of the given parameters after each
    backward, before the optimizer steps.
    """
    device = image.device
    precision = precision or resolve_precision("float32", False, device)
    availability, sc = availability.cpu().float(), sc.cpu().float()
    outputs = availability.amax(dim=0) if outputs is None else outputs.cpu().float()
    masks = LossMasks.build(availability, sc, outputs)
    masks.pixels = pixel_weights
    masks = masks.to(device)
    image = precision.prepare_input(image)
    sources = image * sc.to(device, image.dtype, non_blocking=True)[None, :, None, None]
    objective = objective or selective_objective(weights)

    stepped = False
    with _frozen(model.discriminators):  # the generator step does not train D
        with precision.autocast():
            prediction = model(image, sc, dataset_ids, outputs)
            losses = objective.generator(model, prediction, image, sources, masks)
        if optimizers.generator is not None:
            optimizers.generator.zero_grad(set_to_none=True)
            optimizers.scaler.scale(losses["g"]).backward()
            if synchronize is not None:
                synchronize(_parameters(optimizers.generator))
            optimizers.scaler.step(optimizers.generator)
            stepped = True

    with precision.autocast():
        loss_d = objective.discriminator(model, prediction, image, sources, masks)
    if optimizers.discriminator is not None and (synchronize is not None or loss_d.requires_grad):
        optimizers.discriminator.zero_grad(set_to_none=True)
        if loss_d.requires_grad:  # a reconstruction-only batch has nothing for D to judge
            optimizers.scaler.scale(loss_d).backward()
        if synchronize is not None:  # every rank joins the all-reduce, even with nothing to judge
            synchronize(_parameters(optimizers.discriminator))
        optimizers.scaler.step(optimizers.discriminator)
        stepped = True
    if stepped:  # GradScaler.update needs a step to have been taken
        optimizers.scaler.update()
    values = torch.stack([losses["g"], losses["syn"], losses["rec"], losses["adv"], loss_d.to(losses["g"])])
    g, syn, rec, adv, d = values.detach().float().tolist()  # the step's one wait for the device
    return {"loss/g": g, "loss/syn": syn, "loss/rec": rec, "loss/adv": adv, "loss/d": d}
