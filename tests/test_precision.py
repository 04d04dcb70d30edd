"""Precision and memory layout: what `auto` resolves to, old `amp` configs, and that a bfloat16 /
channels-last step trains the same model as float32 (float32 parameters, close losses)."""
from __future__ import annotations

import pytest
import torch

from pmm_core.config.model import LossWeights, ModelOptions
from pmm_core.config.training import TrainingOptions
from pmm_core.models import build_model
from pmm_core.training.conditions import task_condition
from pmm_core.training.losses import LossMasks
from pmm_core.training.precision import cpu_has_native_bfloat16, resolve_precision
from pmm_core.methods.recipe import StepRecipe
from pmm_core.training.step import build_optimizers, train_step

TINY = ModelOptions(base_channels=4, residual_blocks=1, embedding_dim=8, modulation_hidden=8, encoding_dim=8,
                    discriminator_channels=4, discriminator_layers=2)


def test_auto_follows_the_hardware_and_float32_is_plain() -> None:
    auto = resolve_precision("auto", None, "cpu")
    assert auto.dtype == (torch.bfloat16 if cpu_has_native_bfloat16() else None)
    assert not auto.channels_last  # slower on the CPU in either precision (bench/precision_speed)
    plain = resolve_precision("float32", None, "cpu")
    assert plain.dtype is None and not plain.channels_last and plain.name == "float32"
    assert resolve_precision("float16", None, "cpu").dtype is None  # CPU float16 is emulated: float32
    assert resolve_precision("bfloat16", False, "cpu").layout == "contiguous"
    assert not resolve_precision("bfloat16", None, "cpu").needs_loss_scaling
    with pytest.raises(ValueError, match="precision 'half'"):
        resolve_precision("half")


def test_configs_from_before_precision_still_load() -> None:
    assert TrainingOptions.model_validate({"amp": False}).precision == "float32"
    assert TrainingOptions.model_validate({"amp": True}).precision == "auto"
    assert TrainingOptions.model_validate({"amp": False, "precision": "bfloat16"}).precision == "bfloat16"
    assert "amp" not in TrainingOptions().model_dump()


def test_discriminators_to_run_are_decided_on_the_host() -> None:
    availability = torch.tensor([[1, 1, 0, 1, 0, 0], [1, 1, 0, 0, 0, 0]], dtype=torch.float32)
    masks = LossMasks.build(availability, task_condition(["T1"]), torch.tensor([1, 1, 1, 1, 0, 0.0]))
    assert masks.judged == (1, 3)  # T2 and FLAIR: targets some sample has; T1C nobody has
    assert masks.to(torch.device("cpu")).judged == (1, 3)


def _step(precision_name: str, channels_last: bool) -> tuple[dict[str, float], torch.nn.Module]:
    torch.manual_seed(0)
    options = TrainingOptions(precision=precision_name, channels_last=channels_last, model=TINY)
    recipe = StepRecipe.of(options, "cpu")
    model = recipe.precision.prepare_model(build_model(TINY))
    optimizers = build_optimizers(model, 1e-3)
    generator = torch.Generator().manual_seed(1)
    image = torch.rand(2, 6, 16, 16, generator=generator)
    availability = torch.ones(2, 6)
    metrics = train_step(model, optimizers, image, availability, torch.zeros(2, dtype=torch.int64),
                         task_condition(["T1", "T2"]), LossWeights(), precision=recipe.precision,
                         objective=recipe.objective)
    return metrics, model


def test_bfloat16_channels_last_trains_the_same_float32_model() -> None:
    reference, _ = _step("float32", False)
    laid_out, _ = _step("float32", True)
    assert laid_out == pytest.approx(reference, rel=1e-4, abs=1e-5)  # a layout changes no number
    mixed, model = _step("bfloat16", True)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast computes, weights stay float32
    assert all(torch.isfinite(torch.tensor(v)) for v in mixed.values())
    assert mixed["loss/syn"] == pytest.approx(reference["loss/syn"], rel=0.05)
    assert mixed["loss/g"] == pytest.approx(reference["loss/g"], rel=0.05)
