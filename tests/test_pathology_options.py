"""Training that reaches the pathology (beyond the paper, each one setting from the paper's recipe):
slices with pathology over-represented inside MCBS groups, a lesion-weighted L1, headroom
above the learned intensity bound, mirrored slices and transposed batches. Each checked against the paper's behaviour it leaves intact."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from conftest import tiny_training_options
from pmm_core.config.model import PathologyOptions
from pmm_core.config.training import TrainingOptions
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.intensity import VolumeIntensity, learn_standardization
from pmm_core.data.samplers import MCBSBatchSampler
from pmm_core.models import build_model
from pmm_core.training.losses import l1_per_image
from pmm_core.training.sampling import make_sampler
from pmm_core.methods.recipe import StepRecipe, batch_step
from pmm_core.training.step import build_optimizers

KEYS = [("a", 0)] * 10 + [("b", 1)] * 6


def test_oversampling_keeps_mcbs_groups_and_draws_pathology_as_often_as_asked() -> None:
    weights = [4.0 if i in (0, 1) else 1.0 for i in range(len(KEYS))]  # two of group a's ten slices
    plain, weighted = MCBSBatchSampler(KEYS, 4, seed=0), MCBSBatchSampler(KEYS, 4, seed=0, weights=weights)
    assert len(plain.epoch_batches(0)) == len(weighted.epoch_batches(0))  # an epoch is as long
    drawn = Counter()
    for epoch in range(400):
        for batch in weighted.epoch_batches(epoch):
            assert len({KEYS[i] for i in batch}) == 1  # one (site, availability) per batch, as in MCBS
            drawn.update(batch)
    others = np.mean([drawn[i] for i in range(2, 10)])
    assert drawn[0] / others == pytest.approx(4.0, rel=0.15) and drawn[1] / others == pytest.approx(4.0, rel=0.15)
    equal = MCBSBatchSampler(KEYS, 4, seed=0, weights=[2.0] * len(KEYS))
    assert equal.epoch_batches(3) == plain.epoch_batches(3)  # nothing to favour: the paper's sampler
    with pytest.raises(ValueError):
        MCBSBatchSampler(KEYS, 4, weights=[0.0] * len(KEYS))


def test_pathology_flags_and_lesion_maps_come_from_the_labels(prepared_sites: Path) -> None:
    dataset = SliceDataset([prepared_sites / "BraTS"], split=None, lesion_maps=True)
    flags = dataset.pathology_flags()
    lesions = np.array([int(dataset[i].lesion.sum()) for i in range(len(dataset))])
    assert flags.any() and not flags.all()
    assert (flags == (lesions >= 10)).mean() > 0.9  # the flag counts lesion pixels inside the brain only
    assert not SliceDataset([prepared_sites / "BraTS"], split=None)[int(np.argmax(lesions))].lesion.any()
    options = TrainingOptions.model_validate(tiny_training_options(1).model_dump() | {"pathology": {"oversampling": 3.0}})
    sampler = make_sampler(dataset, options)
    assert sampler.weights is not None and set(np.unique(sampler.weights)) == {1.0, 3.0}
    paper = tiny_training_options(1).model_copy(update={"pathology": PathologyOptions.paper()})
    assert make_sampler(dataset, paper).weights is None  # the paper's recipe: MCBS's permutation
    assert make_sampler(dataset, tiny_training_options(1)).weights is not None  # pmm's default oversamples


def test_balanced_compartments_give_each_part_of_the_label_an_equal_share(prepared_phantom: Path) -> None:
    """Glioma labels (necrosis 1, oedema 2, enhancing 4): under `balanced` every compartment's
    voxels together weigh the same and the lesion as a whole weighs what `pooled` gives it."""
    site = prepared_phantom / "cache" / "BraTS"
    pooled = SliceDataset([site], split=None, lesion_maps=True)
    balanced = SliceDataset([site], split=None, lesion_maps=True, compartments="balanced")
    totals, voxels, pooled_total = Counter(), Counter(), 0.0
    for i in range(len(balanced)):
        label = np.asarray(balanced._reader.read(balanced.cases[balanced.slices[i][0]].label_file, balanced.slices[i][1]))
        inside = balanced[i].brain_mask.numpy() > 0
        shares = balanced[i].lesion.numpy()
        assert set(np.unique(pooled[i].lesion.numpy())) <= {0.0, 1.0} and np.array_equal(pooled[i].lesion.numpy() > 0, label > 0)
        pooled_total += float(pooled[i].lesion.numpy()[inside].sum())
        for value in (1, 2, 4):
            totals[value] += float(shares[inside & (label == value)].sum())
            voxels[value] += int((inside & (label == value)).sum())
    present = [v for v in (1, 2, 4) if voxels[v]]
    assert len(present) >= 2 and len({voxels[v] for v in present}) == len(present)  # parts of unequal size
    for value in present:
        assert totals[value] == pytest.approx(pooled_total / len(present), rel=1e-3)
    smallest = min(present, key=lambda v: voxels[v])
    assert balanced[int(np.argmax([(np.asarray(balanced._reader.read(balanced.cases[p].label_file, z)) == smallest).sum()
                                   for p, z in balanced.slices]))].lesion.max() > 1  # a small part counts more


def test_lesion_weighted_l1_is_the_paper_l1_without_weights_and_counts_the_lesion_more() -> None:
    truth = torch.zeros(1, 1, 8, 8)
    prediction = truth.clone()
    prediction[..., :2, :2] = 1.0  # all the error in a 4-pixel lesion
    lesion = torch.zeros(1, 1, 8, 8)
    lesion[..., :2, :2] = 1
    assert torch.equal(l1_per_image(prediction, truth, torch.ones_like(lesion)), l1_per_image(prediction, truth))
    weighted = l1_per_image(prediction, truth, 1 + 9 * lesion)
    assert float(weighted) == pytest.approx(40 / (64 + 36)) and float(weighted) > float(l1_per_image(prediction, truth))


@pytest.mark.parametrize("augmented", [False, True])
def test_a_lesion_weighted_step_trains_on_real_batches(prepared_sites: Path, augmented: bool) -> None:
    options = TrainingOptions.model_validate(tiny_training_options(1).model_dump() | {"pathology": {
        "lesion_weight": 5.0, "mirroring": augmented, "transposing": augmented}})
    dataset = SliceDataset([prepared_sites / "BraTS"], split=None, lesion_maps=True)
    batch = next(iter(DataLoader(dataset, batch_sampler=make_sampler(dataset, options))))
    torch.manual_seed(0)
    model = build_model(options.model)
    losses = batch_step(model, build_optimizers(model, 1e-3), batch, np.random.default_rng(0),
                        StepRecipe.of(options, "cpu"), torch.device("cpu"))
    assert np.isfinite(losses["loss/g"]) and losses["loss/syn"] > 0


def test_mirroring_flips_each_slice_with_its_lesion_weights_and_leaves_the_batch_intact() -> None:
    from pmm_core.training.mirroring import mirrored

    image = torch.rand(16, 6, 12, 10)
    lesion = (image[:, 0] > 0.7).float()
    before = image.clone(), lesion.clone()
    flipped, weights = mirrored(image, lesion, np.random.default_rng(3))
    assert torch.equal(image, before[0]) and torch.equal(lesion, before[1])      # the loader's tensors untouched
    assert torch.equal(weights, (flipped[:, 0] > 0.7).float())                   # the weights moved with the slice
    placements = Counter()
    for index in range(16):
        choices = [axes for axes in ([], [-2], [-1], [-2, -1])
                   if torch.equal(flipped[index], image[index].flip(axes) if axes else image[index])]
        assert len(choices) == 1                                                 # a mirror image, not a resample
        placements[tuple(choices[0])] += 1
    assert len(placements) == 4                                                  # every placement drawn
    again, _ = mirrored(image, lesion, np.random.default_rng(3))
    assert torch.equal(again, flipped)                                           # the trainer's stream decides


def test_transposing_turns_a_whole_batch_with_its_lesion_weights_even_when_the_crop_is_not_square() -> None:
    from pmm_core.training.mirroring import transposed

    image = torch.rand(4, 6, 12, 8)
    lesion = (image[:, 0] > 0.7).float()
    rng = np.random.default_rng(0)
    turned = [transposed(image, lesion, rng) for _ in range(20)]
    shapes = Counter(tuple(t.shape) for t, _ in turned)
    assert shapes == Counter({(4, 6, 8, 12): shapes[(4, 6, 8, 12)], (4, 6, 12, 8): shapes[(4, 6, 12, 8)]})
    assert min(shapes.values()) >= 5                                              # both outcomes drawn, about half each
    for batch, weights in turned:
        assert torch.equal(weights, (batch[:, 0] > 0.7).float())                 # the weights turned with the batch
        assert torch.equal(batch, image) or torch.equal(batch, image.transpose(-2, -1))  # moved, never resampled


def test_headroom_raises_the_learned_bound() -> None:
    volumes = [{"FLAIR": VolumeIntensity(anchor=100.0, low=10.0, high=300.0, top=250.0)}]
    plain, roomy = learn_standardization("tissue", volumes), learn_standardization("tissue", volumes, headroom=0.5)
    assert plain.modalities["FLAIR"].upper == 2.5 and roomy.modalities["FLAIR"].upper == 3.75
    from pmm_core.config.site import PreprocessOptions

    with pytest.raises(ValueError):
        PreprocessOptions(intensity_headroom=-0.1)


def test_without_a_label_bright_flair_marks_pathology_and_t1c_does_not(tmp_path: Path) -> None:
    """The label-free proxy: FLAIR (or DWI) brain pixels above 1.8x the healthy-tissue anchor; a
    bright T1C alone (vessels, dura) does not count."""
    from pmm_core.data.cache import case_cache_dir, write_case
    from pmm_core.data.pathology import case_lesion_pixels
    from pmm_core.data.preprocess.pipeline import PreparedCase

    image = np.ones((3, 2, 16, 16), dtype=np.float32)   # T1C, FLAIR at the anchor level
    image[1, 1, 4:8, 4:8] = 2.5                         # slice 1: a FLAIR lesion of 16 pixels
    image[2, 0, 4:8, 4:8] = 2.5                         # slice 2: bright T1C only
    unit = VolumeIntensity(anchor=1.0, low=0.0, high=3.0, top=3.0)
    case = PreparedCase(case_id="c0", modalities=("T1C", "FLAIR"), reference="T1C", image=image,
                        geometry={"size": [16, 16, 3], "spacing": [1.0] * 3, "origin": [0.0] * 3,
                                  "direction": [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]},
                        mask=np.ones((3, 16, 16), dtype=np.uint8), label=None, intensity={"T1C": unit, "FLAIR": unit},
                        native={m: {"size": [16, 16, 3], "spacing": [1.0] * 3} for m in ("T1C", "FLAIR")})
    write_case(tmp_path / "SITE", case, "test")
    assert case_lesion_pixels(case_cache_dir(tmp_path / "SITE", "c0"), [0, 1, 2]).tolist() == [0, 16, 0]


def test_pmm_trains_the_pathology_options_by_default_and_the_paper_recipe_is_one_flag(tmp_path: Path) -> None:
    from pmm_core.config.model import PathologyOptions
    from pmm_core.config.training import options_with_overrides
    from pmm.experiments.settings import load_settings

    from pmm_core.config.training import saved_options

    default = options_with_overrides(None)
    assert (default.pathology.oversampling, default.pathology.lesion_weight, default.pathology.mirroring,
            default.pathology.transposing) == (4.0, 20.0, True, False)
    before_mirroring = default.model_dump(mode="json")
    del before_mirroring["pathology"]["mirroring"], before_mirroring["pathology"]["transposing"]  # an older pmm's checkpoint
    resumed = saved_options(before_mirroring, "last.pt").pathology
    assert not resumed.mirroring and not resumed.transposing  # resumes as it began
    transposed = default.model_dump(mode="json")
    transposed["pathology"]["transposing"] = True
    assert saved_options(transposed, "last.pt").pathology.transposing                # a run that asked for it resumes with it
    paper = options_with_overrides(None, paper_recipe=True)
    assert paper.pathology == PathologyOptions.paper() and (paper.pathology.oversampling, paper.pathology.lesion_weight) == (1.0, 0.0)
    assert not paper.pathology.mirroring and not paper.pathology.transposing
    config = tmp_path / "own.toml"
    config.write_text("epochs = 3\n[pathology]\nlesion_weight = 2.0\n")
    assert options_with_overrides(config).pathology.lesion_weight == 2.0        # a TOML's own value stays
    assert options_with_overrides(config, paper_recipe=True).pathology == PathologyOptions.paper()
    assert load_settings("tables", quick=True).training_options().pathology == PathologyOptions.paper()  # the paper's tables
