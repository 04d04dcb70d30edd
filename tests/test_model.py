"""PMM-Synth on a tiny configuration: shapes, PFM identity, selective gradients, encoder use,
determinism, learning on one batch, and the named parameter groups."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from pmm_core.config.model import LossWeights, ModelOptions
from pmm_core.modalities import MODALITIES, availability_vector
from pmm_core.models import GROUP_NAMES, build_model, parameter_counts, parameter_groups
from pmm_core.training.conditions import sample_condition, task_condition
from pmm_core.training.losses import LossMasks, discriminator_loss, generator_losses
from pmm_core.training.step import build_optimizers, train_step

TINY = ModelOptions(base_channels=8, downsamplings=2, residual_blocks=1, embedding_dim=16, modulation_hidden=16,
                    encoding_dim=16, discriminator_channels=8, discriminator_layers=2)
SIZE = 32


def _tiny(pfm: bool = True, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(TINY.model_copy(update={"pfm": pfm}))


def _site_patterns() -> list[tuple[int, ...]]:
    tti = [c for r in range(1, 5) for c in itertools.combinations(("T1", "T2", "FLAIR", "ADC"), r)]
    return [availability_vector(p) for p in [MODALITIES, ("T1", "T2", "T1C", "FLAIR"), ("FLAIR", "DWI", "ADC"), *tti]]


def _batch(availability: tuple[int, ...], batch: int = 2, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    m = torch.tensor([availability] * batch, dtype=torch.float32)
    image = torch.rand(batch, 6, SIZE, SIZE, generator=generator) * m[:, :, None, None]
    return image, m, torch.tensor([1] * batch)


@pytest.mark.parametrize("pattern", _site_patterns(), ids=lambda p: "+".join(m for m, b in zip(MODALITIES, p) if b))
def test_output_shape_and_range_for_every_site_pattern(pattern) -> None:
    model = _tiny()
    image, m, ids = _batch(pattern)
    sc = sample_condition(m, np.random.default_rng(0))
    assert (sc <= m[0]).all() and sc.sum() >= 1
    if m[0].sum() >= 2:
        assert ((1 - sc) * m[0]).sum() >= 1  # at least one available target
    with torch.no_grad():
        output = model(image * sc[None, :, None, None], sc, ids)
    assert output.shape == (2, 6, SIZE, SIZE) and output.min() >= 0 and output.max() <= 1


def test_untrained_pfm_is_the_identity() -> None:
    plain, modulated = _tiny(pfm=False), _tiny(pfm=True, seed=1)
    result = modulated.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys
    groups = parameter_groups(modulated)
    assert set(result.missing_keys) == set(groups["embedding"]) | set(groups["modulation"])
    image, m, _ = _batch(availability_vector(MODALITIES))
    sc = task_condition(["T1", "T2"])
    with torch.no_grad():
        with_pfm = modulated(image, sc, torch.tensor([0, 3]))
        without = plain(image, sc, torch.tensor([0, 3]))
    assert torch.equal(with_pfm, without)


def test_missing_modality_gets_zero_gradient_from_every_term() -> None:
    model = _tiny()
    availability = availability_vector(("T1", "T2", "FLAIR"))
    image, m, ids = _batch(availability)
    image = torch.rand_like(image)  # even with data in the missing channels, nothing may supervise them
    sc = task_condition(["T1"])
    masks = LossMasks.build(m, sc)
    sources = image * sc[None, :, None, None]
    prediction = model(sources, sc, ids)
    losses = generator_losses(model, prediction, image, sources, masks, LossWeights())
    missing = [i for i, bit in enumerate(availability) if not bit]
    for name in ("syn", "rec", "adv", "g"):
        (gradient,) = torch.autograd.grad(losses[name], prediction, retain_graph=True, allow_unused=True)
        assert gradient is not None and not gradient[:, missing].any(), name
    present_targets = [MODALITIES.index("T2"), MODALITIES.index("FLAIR")]
    (gradient,) = torch.autograd.grad(losses["syn"], prediction, retain_graph=True)
    assert gradient[:, present_targets].abs().sum() > 0
    loss_d = discriminator_loss(model, prediction, image, sources, masks)
    loss_d.backward()
    for index in missing:
        assert all(p.grad is None or not p.grad.any() for p in model.discriminators[index].parameters())
    assert any(p.grad is not None and p.grad.any() for p in model.discriminators[present_targets[0]].parameters())


def test_only_the_sources_encoders_run() -> None:
    model = _tiny()
    called: list[int] = []
    for index, encoder in enumerate(model.generator.modality_encoders):
        encoder.register_forward_hook(lambda module, inputs, output, index=index: called.append(index))
    image, m, ids = _batch(availability_vector(MODALITIES))
    with torch.no_grad():
        model(image, task_condition(["T1", "T2", "FLAIR"]), ids)
    assert sorted(called) == [0, 1, 3]


def _one_step(seed: int) -> tuple[dict[str, float], torch.Tensor]:
    model = _tiny(seed=seed)
    optimizers = build_optimizers(model)
    image, m, ids = _batch(availability_vector(("T1", "T2", "T1C", "FLAIR")))
    sc = sample_condition(m, np.random.default_rng(seed))
    metrics = train_step(model, optimizers, image, m, ids, sc, LossWeights())
    return metrics, torch.cat([p.detach().flatten() for p in model.parameters()])


def test_same_seed_same_step() -> None:
    metrics_a, params_a = _one_step(3)
    metrics_b, params_b = _one_step(3)
    assert metrics_a == metrics_b and torch.equal(params_a, params_b)
    assert all(isinstance(v, float) for v in metrics_a.values())
    _, params_c = _one_step(4)
    assert not torch.equal(params_a, params_c)


def _structured_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """T1 is a smooth random pattern inside a disc; the other modalities are fixed nonlinear
    contrasts of it, so they can be learned from T1."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.nn.functional.avg_pool2d(torch.rand(4, 1, SIZE + 8, SIZE + 8, generator=generator), 9, 1)
    t1 = (noise - noise.amin()) / (noise.amax() - noise.amin())
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, SIZE), torch.linspace(-1, 1, SIZE), indexing="ij")
    disc = ((yy ** 2 + xx ** 2) < 0.8).float()
    image = torch.cat([t1, 1 - t1, t1 ** 2, (1 - t1) ** 0.5, 0 * t1, 0 * t1], dim=1) * disc
    m = torch.tensor([availability_vector(("T1", "T2", "T1C", "FLAIR"))] * 4, dtype=torch.float32)
    return image, m, torch.tensor([2] * 4)


OVERFIT_STEPS = 60
OVERFIT_FACTOR = 3.0


def test_tiny_model_overfits_one_batch() -> None:
    """Synthesis L1 on a fixed batch and condition falls at least 3x within 60 steps."""
    model = _tiny()
    optimizers = build_optimizers(model, learning_rate=2e-3)
    image, m, ids = _structured_batch()
    sc = task_condition(["T1"])
    history = [train_step(model, optimizers, image, m, ids, sc, LossWeights())["loss/syn"] for _ in range(OVERFIT_STEPS)]
    print(f"L_syn {history[0]:.4f} -> {history[-1]:.4f} in {OVERFIT_STEPS} steps")
    assert history[-1] * OVERFIT_FACTOR < history[0]


@pytest.mark.parametrize("pfm", [True, False])
def test_groups_cover_every_parameter_exactly_once(pfm: bool) -> None:
    model = _tiny(pfm=pfm)
    groups = parameter_groups(model)
    assert tuple(groups) == GROUP_NAMES
    names = [name for group in groups.values() for name in group]
    assert len(names) == len(set(names))
    assert set(names) == {name for name, _ in model.named_parameters()}
    counts = parameter_counts(model)
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert (counts["embedding"] > 0 and counts["modulation"] > 0) == pfm


def test_single_modality_batch_trains_reconstruction_only() -> None:
    """A TTI case with only ADC has no target: SC = M, L_syn and L_D are zero, L_rec trains."""
    model = _tiny()
    optimizers = build_optimizers(model)
    image, m, ids = _batch(availability_vector(("ADC",)))
    sc = sample_condition(m, np.random.default_rng(0))
    assert sc.tolist() == m[0].tolist()
    metrics = train_step(model, optimizers, image, m, ids, sc, LossWeights())
    assert metrics["loss/syn"] == 0.0 and metrics["loss/d"] == 0.0 and metrics["loss/rec"] > 0


def test_training_options_nest_the_model(tmp_path) -> None:
    from pmm_core.config.training import load_training_options

    path = tmp_path / "train.toml"
    path.write_text("[model]\nbase_channels = 8\npfm = false\n[losses]\nsyn = 50\n")
    options = load_training_options(path)
    assert options.model.base_channels == 8 and not options.model.pfm and options.losses.syn == 50
    assert options.losses.rec == 30 and options.conditions.scenario_probability == 0.3


def test_condition_sampling_is_seeded_and_uses_clinical_scenarios() -> None:
    brats = torch.tensor([availability_vector(("T1", "T2", "T1C", "FLAIR"))], dtype=torch.float32)
    scenarios = {tuple(task_condition(list(s)).tolist()) for s in (("T1", "T2", "FLAIR"), ("T1", "T2"), ("T1",))}
    always = [tuple(sample_condition(brats, np.random.default_rng(s), 1.0).tolist()) for s in range(20)]
    assert set(always) <= scenarios and len(set(always)) == 3
    draws = [sample_condition(brats, np.random.default_rng(7), 0.0) for _ in range(2)]
    assert torch.equal(draws[0], draws[1])
    many = {tuple(sample_condition(brats, np.random.default_rng(s), 0.0).tolist()) for s in range(200)}
    assert len(many) == 14  # every non-empty proper subset of four modalities
    isles = torch.tensor([availability_vector(("FLAIR", "DWI", "ADC"))], dtype=torch.float32)
    assert all(sample_condition(isles, np.random.default_rng(s), 1.0)[0] == 0 for s in range(20))  # no T1: no scenario


def _decoder_calls(model) -> list[int]:
    called: list[int] = []
    for index, decoder in enumerate(model.generator.decoders):
        decoder.register_forward_hook(lambda module, inputs, output, index=index: called.append(index))
    return called


def test_training_runs_only_the_decoders_of_available_modalities() -> None:
    """An ISLES batch (FLAIR, DWI, ADC) decodes those three; T1, T2, T1C come out exactly zero."""
    model = _tiny()
    called = _decoder_calls(model)
    optimizers = build_optimizers(model)
    image, m, ids = _batch(availability_vector(("FLAIR", "DWI", "ADC")))
    train_step(model, optimizers, image, m, ids, task_condition(["FLAIR", "DWI"]), LossWeights())
    assert sorted(called) == [3, 4, 5]
    with torch.no_grad():
        output = model(image, task_condition(["FLAIR"]), ids, m[0])
    assert output.shape == (2, 6, SIZE, SIZE) and not output[:, :3].any() and output[:, 3:].amin() > 0


def test_fewer_decoders_train_exactly_as_all_six() -> None:
    """Decoders of absent modalities got no loss, so leaving them out changes no update."""
    image, m, ids = _batch(availability_vector(("T1", "T2", "FLAIR")))
    sc = task_condition(["T1"])
    models = [_tiny(seed=5), _tiny(seed=5)]
    for model, outputs in zip(models, (None, torch.ones(6))):
        optimizers = build_optimizers(model)
        for _ in range(2):
            train_step(model, optimizers, image, m, ids, sc, LossWeights(), outputs=outputs)
    for (name, a), b in zip(models[0].named_parameters(), models[1].parameters()):
        assert torch.allclose(a, b, atol=1e-7), name


def test_inference_decodes_only_the_requested_target() -> None:
    from pmm_core.evaluation.evaluate import synthesize_slices

    model = _tiny().eval()
    called = _decoder_calls(model)
    image, m, _ = _batch(availability_vector(MODALITIES), batch=3)
    sc = task_condition(["T1", "T2"])
    only = synthesize_slices(model, image.numpy(), sc, 1, torch.device("cpu"), 2, "FLAIR")
    assert set(called) == {3} and only.shape == (3, SIZE, SIZE)
    with torch.no_grad():
        full = model(image * sc[None, :, None, None], sc, torch.tensor([1, 1, 1]))
    assert np.allclose(only, full[:, 3].numpy(), atol=1e-6)
