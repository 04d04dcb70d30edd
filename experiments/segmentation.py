"""Downstream segmentation (the paper's Fig. 2c): can pmm's synthesis stand in for a missing sequence?

For phantom BraTS (WT / TC / ET from the 1/2/4 labels, T1C missing) and ISLES (the infarct,
DWI missing), a MONAI 2D U-Net is trained on the training split, and Dice is measured on the
test split three ways:
- all real: the U-Net trained on every modality, given every real modality;
- missing: a U-Net trained and tested without the missing modality;
- synthesized: the all-real U-Net, given the test cases as `pmm complete` fills them: the
  missing modality's files removed, the full PMM-Synth model (trained on all four sites)
  synthesizing it into a completed copy in the site's native layout, and that copy prepared like
  any site (`segmentation_completion`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import torch
from monai.losses import DiceCELoss
from monai.metrics import compute_dice
from monai.networks.nets import UNet

from centralized.model_loading import default_device, load_trained_model
from experiments.report import grouped_bars, publish
from experiments.segmentation_completion import completed_cases
from experiments.segmentation_data import channels, label_targets, labelled_cases
from experiments.settings import MLFLOW_EXPERIMENT
from experiments.variants import train_central
from experiments.workspace import SITE_NAMES, Workspace
from pmm_core.data.case_volume import CaseVolume
from tracking import RunTracker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

WAYS = {"real": "all real", "missing": "missing", "synthesized": "synthesized"}


@dataclass(frozen=True)
class SegmentationTask:
    inputs: tuple[str, ...]
    missing: str
    classes: dict[str, tuple[int, ...]]


TASKS = {"BraTS": SegmentationTask(("T1", "T1C", "T2", "FLAIR"), "T1C", {"WT": (1, 2, 4), "TC": (1, 4), "ET": (4,)}),
         "ISLES": SegmentationTask(("FLAIR", "DWI", "ADC"), "DWI", {"infarct": (1,)})}


def oversample_foreground(batch: np.ndarray, foreground: np.ndarray, rng: np.random.Generator,
                          fraction: float = 1 / 3) -> np.ndarray:
    """The batch's slice indices with its last ones replaced by labelled slices until at least
    `fraction` of it holds a label (nnU-Net's oversample_foreground_percent)."""
    wanted = int(np.ceil(fraction * len(batch))) - int(np.isin(batch, foreground).sum())
    if wanted <= 0 or len(foreground) == 0:
        return batch
    background = batch[~np.isin(batch, foreground)]
    kept = np.concatenate([batch[np.isin(batch, foreground)], background[:len(background) - wanted]])
    return np.concatenate([kept, rng.choice(foreground, wanted)])


def train_unet(space: Workspace, label: str, cases: list[CaseVolume], inputs: tuple[str, ...],
               classes: dict[str, tuple[int, ...]], epochs: int, seed: int) -> UNet:
    """A 2D MONAI U-Net on the training slices (Dice + cross-entropy, sigmoid per class).

    Small lesions (a phantom infarct is about 0.1% of a case's voxels, on 5 of its 25 slices)
    collapse a plain U-Net to predicting nothing, so two standard remedies apply to every site:
    the Dice term is computed over the whole batch (`batch=True`), and, as nnU-Net does, a third
    of every batch is drawn from slices that hold a label (foreground oversampling)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images = np.concatenate([channels(c.volume, inputs) for c in cases])
    targets = np.concatenate([label_targets(c.label, classes) for c in cases])
    foreground = np.flatnonzero(targets.reshape(len(targets), -1).any(axis=1))
    net = UNet(spatial_dims=2, in_channels=len(inputs), out_channels=len(classes), channels=(16, 32, 64, 128),
               strides=(2, 2, 2), num_res_units=1)
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    loss_fn = DiceCELoss(sigmoid=True, batch=True)
    tracker = RunTracker(MLFLOW_EXPERIMENT, run_name=f"{space.name}/{label}", tracking_uri=space.tracking_uri,
                         tags={"pmm.mode": "experiment-unet", "pmm.experiment": space.name})
    tracker.log_params({"inputs": ",".join(inputs), "classes": ",".join(classes), "epochs": epochs,
                        "train_slices": len(images)})
    with space.timed(label):
        for epoch in range(epochs):
            net.train()
            losses, order = [], rng.permutation(len(images))
            for start in range(0, len(images), 16):
                batch = oversample_foreground(order[start:start + 16], foreground, rng)
                optimizer.zero_grad()
                loss = loss_fn(net(torch.from_numpy(images[batch])), torch.from_numpy(targets[batch]))
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            tracker.log_metrics({"train/loss": float(np.mean(losses))}, epoch + 1)
    tracker.finish()
    return net.eval()


@torch.no_grad()
def case_dice(net: UNet, image: np.ndarray, label: np.ndarray, classes: dict[str, tuple[int, ...]]) -> np.ndarray:
    """Dice per class over the whole case (slices stacked); 1 when both truth and prediction are empty."""
    prediction = torch.sigmoid(net(torch.from_numpy(image))) > 0.5                      # (Z, C, H, W)
    truth = torch.from_numpy(label_targets(label, classes)) > 0.5
    as_volume = lambda t: t.permute(1, 0, 2, 3)[None].float()                          # noqa: E731  (1, C, Z, H, W)
    return compute_dice(as_volume(prediction), as_volume(truth), ignore_empty=False)[0].numpy()


def dice_cell(rows: list[dict], site: str, name: str) -> dict[str, dict]:
    """short way name (real / missing / synthesized) -> that row of one site's class."""
    return {r["way"].split(" ")[-1]: r for r in rows if r["site"] == site and r["class"] == name}


def figure(rows: list[dict]):
    """Grouped bars: Dice per site and class, all real / missing / synthesized (paper Fig. 2c)."""
    groups = [(site, name) for site, task in TASKS.items() for name in task.classes]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    grouped_bars(ax, [f"{site} {name}" for site, name in groups],
                 {label: [dice_cell(rows, *g)[way]["dice_mean"] for g in groups] for way, label in WAYS.items()},
                 {label: [dice_cell(rows, *g)[way]["dice_std"] for g in groups] for way, label in WAYS.items()})
    ax.set_ylabel("test Dice")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Downstream segmentation: the missing modality real, absent or synthesized")
    return fig


def run(space: Workspace, doc: Path | None, command: str) -> Path:
    space.prepare()
    s = space.settings
    epochs = int(s.extra.get("unet_epochs", 20))
    synthesis = load_trained_model(train_central(space, "full", list(SITE_NAMES)), default_device())
    rows, metrics = [], {}
    for site, task in TASKS.items():
        site_dir = space.site_dir(site)
        train, test = labelled_cases(site_dir, "train", task.inputs), labelled_cases(site_dir, "test", task.inputs)
        without = tuple(m for m in task.inputs if m != task.missing)
        real_net = train_unet(space, f"unet-{site}-all", train, task.inputs, task.classes, epochs, s.seed)
        missing_net = train_unet(space, f"unet-{site}-without-{task.missing}", train, without, task.classes, epochs, s.seed)
        scores = {"all real": [], f"{task.missing} missing": [], f"{task.missing} synthesized": []}
        with space.timed(f"complete-{site}"):
            completed = {c.case_id: c for c in completed_cases(synthesis, space.phantom / "sites" / f"{site.lower()}.toml",
                                                               site_dir, task.inputs, task.missing,
                                                               space.runs / "completion" / site)}
        for case in test:
            scores["all real"].append(case_dice(real_net, channels(case.volume, task.inputs), case.label, task.classes))
            scores[f"{task.missing} missing"].append(case_dice(missing_net, channels(case.volume, without), case.label,
                                                               task.classes))
            filled = completed[case.case_id]
            scores[f"{task.missing} synthesized"].append(case_dice(real_net, channels(filled.volume, task.inputs),
                                                                   filled.label, task.classes))
        for way, values in scores.items():
            values = np.asarray(values)
            for index, name in enumerate(task.classes):
                rows.append({"site": site, "class": name, "way": way, "dice_mean": float(values[:, index].mean()),
                             "dice_std": float(values[:, index].std()), "cases": len(values)})
                metrics[f"{site}/{name}/{way.replace(' ', '_')}/dice"] = float(values[:, index].mean())
    section = [f"## Downstream segmentation (paper Fig. 2c){space.title_suffix}", "",
               f"MONAI 2D U-Nets ({epochs} epochs; batch Dice + cross-entropy, a third of every batch from "
               f"labelled slices) on the phantom's training split, Dice on its test split "
               f"(mean ± std over cases). Synthesis: the full PMM-Synth model trained on all four sites "
               f"({s.epochs} epochs), filling the missing modality of the test cases with `pmm complete`'s code "
               f"(completed copy in the site's layout and scanner scale, then prepared like any site).", "", "| site | class | all real | missing | synthesized |", "|---|---|---|---|---|"]
    for site, task in TASKS.items():
        for name in task.classes:
            found = dice_cell(rows, site, name)
            section.append(f"| {site} | {name} | " + " | ".join(
                f"{found[w]['dice_mean']:.3f} ± {found[w]['dice_std']:.3f}" for w in WAYS) + " |")
    section += ["", "Missing modality: " + ", ".join(f"{site} {task.missing}" for site, task in TASKS.items()) + ".",
                "", f"![segmentation Dice](results/{space.name}.png)"]
    path = publish(space, "\n".join(section), {"rows": rows}, metrics, {f"{space.name}.png": figure(rows)}, doc, command)
    space.echo("\n".join(section))
    return path
