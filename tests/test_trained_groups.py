"""Which parameters train, for every partition variant and mode: each group that should train
changes within a few steps, each frozen one does not change at all, and a step leaves the
`requires_grad` flags as it found them."""
from __future__ import annotations

import itertools

import pytest
import torch

from pmm_core.config.model import LossWeights, ModelOptions
from pmm_core.federated.partition import PartitionOptions, trained_groups
from pmm_core.modalities import MODALITIES, availability_vector
from pmm_core.models import GROUP_NAMES, build_model, parameter_groups
from pmm_core.training.conditions import task_condition
from pmm_core.training.step import build_optimizers, train_step

TINY = ModelOptions(base_channels=8, downsamplings=2, residual_blocks=1, embedding_dim=16, modulation_hidden=16,
                    encoding_dim=16, discriminator_channels=8, discriminator_layers=2)
PARTITIONS = {  # pmm serve's flags → the groups that travel
    "paper": ("generator", "modulation"),
    "personal-modulation": ("generator",),
    "share-discriminators": ("generator", "modulation", "discriminators"),
    "personal-modulation+share-discriminators": ("generator", "discriminators"),
}
STEPS = 3  # PFM's last layer starts at zero: the embedding's gradient appears from the second step


def _snapshot(model) -> dict[str, dict[str, torch.Tensor]]:
    return {group: {n: p.detach().clone() for n, p in params.items()} for group, params in parameter_groups(model).items()}


@pytest.mark.parametrize(("variant", "personalize_only"), list(itertools.product(PARTITIONS, (False, True))),
                         ids=lambda v: {False: "round", True: "personalize-only"}.get(v, v) if isinstance(v, bool) else v)
def test_what_trains_is_what_the_partition_and_mode_say(variant: str, personalize_only: bool) -> None:
    partition = PartitionOptions(shared=PARTITIONS[variant])
    groups = trained_groups(partition, personalize_only)
    assert set(groups) == (set(partition.personal) if personalize_only else set(GROUP_NAMES))
    torch.manual_seed(0)
    model = build_model(TINY)
    if personalize_only:  # personalization starts from a trained global model, whose PFM is no longer the identity
        with torch.no_grad():
            for parameter in parameter_groups(model)["modulation"].values():
                parameter.add_(0.05 * torch.randn_like(parameter))
    optimizers = build_optimizers(model, learning_rate=1e-3, groups=groups)
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    before = _snapshot(model)
    generator = torch.Generator().manual_seed(0)
    m = torch.tensor([availability_vector(MODALITIES)] * 2, dtype=torch.float32)
    image = torch.rand(2, 6, 32, 32, generator=generator)
    for _ in range(STEPS):
        train_step(model, optimizers, image, m, torch.tensor([3, 3]), task_condition(["T1", "T2", "FLAIR"]), LossWeights())
        assert {n: p.requires_grad for n, p in model.named_parameters()} == flags, "a step changed requires_grad"
    after = _snapshot(model)
    for group in GROUP_NAMES:
        changed = [n for n in before[group] if not torch.equal(before[group][n], after[group][n])]
        if group in groups:
            assert changed, f"{variant}: group {group!r} should train but no tensor of it changed"
        else:
            assert not changed, f"{variant}: frozen group {group!r} changed ({changed[0]})"
    embedding = before["embedding"]
    if "embedding" in groups:
        assert all(not torch.equal(embedding[n], after["embedding"][n]) for n in embedding), "an embedding tensor did not train"


def test_nothing_to_train_is_a_clear_error() -> None:
    model = build_model(TINY.model_copy(update={"pfm": False}))
    with pytest.raises(ValueError, match="nothing to train"):
        build_optimizers(model, groups=("embedding",))


def test_a_personal_modulation_round_trains_the_modulation_and_the_embedding(prepared_sites, tmp_path) -> None:
    """Through the real local round: with --personal-modulation the site's modulation MLPs and its
    embedding, kept in its state folder, have learned (they once stayed at their initial values)."""
    from pmm_core.config.training import TrainingOptions
    from pmm_core.federated.local_round import LocalRoundSpec, build_site_model, run_local_round
    from pmm_core.federated.partition import shared_arrays
    from pmm_core.federated.site_state import load_site_state

    options = TrainingOptions(epochs=2, batch_size=4, learning_rate=1e-3, model=TINY)
    partition = PartitionOptions(shared=PARTITIONS["personal-modulation"])
    initial = build_site_model(options)
    start = _snapshot(initial)
    spec = LocalRoundSpec(site_dir=prepared_sites / "BraTS", state_dir=tmp_path, options=options, partition=partition,
                          local_epochs=1, progress=False, val_max_cases=1)
    result = run_local_round(spec, shared_arrays(initial, partition), echo=lambda _: None)
    assert set(result.shared) == set(start["generator"])
    personal = load_site_state(tmp_path, "BraTS", options.model.model_dump(mode="json")).personal
    for group in ("embedding", "modulation"):
        changed = [n for n in start[group] if not torch.equal(start[group][n], personal[n])]
        assert len(changed) > len(start[group]) // 2, f"{group}: {len(changed)} of {len(start[group])} tensors trained"
