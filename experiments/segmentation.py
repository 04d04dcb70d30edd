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

`[extra] synthesis` names the training recipes whose models fill the gap, one "synthesized"
column each: `paper` (the paper's recipe) and any variant of `pmm experiment pathology` (its
models are shared: one run trains them once). The table also says what fraction of the Dice the
missing modality costs each synthesis recovers: (synthesized - missing) / (all real - missing).
With four test cases per site, one U-Net's seed moves the phantom ISLES's mean infarct Dice by as
much as 0.3; `[extra] unet_seeds` (a number, or a table by site) trains that many U-Nets per
input set and scores each case by their mean Dice, and `[extra] heldout_cases` adds that many
cases per site to the test cases: the site's next cases, which no model saw
(`segmentation_heldout`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib
import numpy as np
import torch
from monai.losses import DiceCELoss
from monai.metrics import compute_dice
from monai.networks.nets import UNet

from pmm.inference.model_loading import default_device, load_trained_model
from pmm.experiments.report import grouped_bars, publish
from pmm.experiments.pathology import VARIANTS, variant_setup
from pmm.experiments.recovery import recovered_share, share_interval
from pmm.experiments.segmentation_completion import completed_cases, real_cases
from pmm.experiments.segmentation_heldout import heldout_setting, heldout_site
from pmm.experiments.segmentation_data import channels, label_targets, labelled_cases
from pmm.experiments.unet_augmentation import augmented
from pmm.experiments.settings import MLFLOW_EXPERIMENT
from pmm.experiments.variants import train_central
from pmm.experiments.workspace import SITE_NAMES, Workspace
from pmm_core.data.case_volume import StandardizedCase
from pmm_core.errors import PmmError
from pmm.tracking import RunTracker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402



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


BATCH = 16
LOG_EVERY = 100  # steps between two logged training losses


def unet_batches(count: int, foreground: np.ndarray, steps: int, rng: np.random.Generator):
    """`steps` batches of slice indices: epochs of a fresh permutation each, cut into batches of
    `BATCH`, each with a third from labelled slices (`oversample_foreground`)."""
    order = np.empty(0, dtype=np.int64)
    for _ in range(steps):
        if len(order) < BATCH:
            order = np.concatenate([order, rng.permutation(count)])
        batch, order = order[:BATCH], order[BATCH:]
        yield oversample_foreground(batch, foreground, rng)


def train_unet(space: Workspace, label: str, cases: list[StandardizedCase], inputs: tuple[str, ...],
               classes: dict[str, tuple[int, ...]], steps: int, seed: int, augmentation: bool = False) -> UNet:
    """A 2D MONAI U-Net on the training slices (Dice + cross-entropy, sigmoid per class).

    Small lesions (a phantom infarct is about 0.1% of a case's voxels, on 5 of its 25 slices)
    collapse a plain U-Net to predicting nothing, so the remedies of nnU-Net apply to every site:
    the Dice term is computed over the whole batch (`batch=True`), a third of every batch is drawn
    from slices that hold a label (foreground oversampling), every site trains for the same number
    of batches (`steps`, as nnU-Net's fixed iterations per epoch) whatever its slice count, and the
    learning rate decays polynomially to zero. Measured on the phantom's ISLES (353 training
    slices): 60 epochs at a constant rate (1,380 batches) left the U-Net ranking the infarct
    first but below 0.5 everywhere (Dice 0.000 on the test split, or 0.55, by thread count alone).
    With `augmentation`, every batch goes through nnU-Net's intensity transforms and mirroring
    (`unet_augmentation`). A finished U-Net is kept as `<runs>/<label>.pt` and reused while its
    cases and settings are the same, so a rerun with another synthesis recipe trains only what is new."""
    net = UNet(spatial_dims=2, in_channels=len(inputs), out_channels=len(classes), channels=(16, 32, 64, 128),
               strides=(2, 2, 2), num_res_units=1)
    signature = {"inputs": list(inputs), "classes": {k: list(v) for k, v in classes.items()}, "steps": steps,
                 "schedule": "poly", "seed": seed, "cases": [c.case_id for c in cases]}
    if augmentation:  # the key only when on, so U-Nets trained before it are still reused
        signature["augmentation"] = "nnunet"
    kept = space.runs / f"{label}.pt"
    if kept.is_file() and (found := torch.load(kept, weights_only=True))["signature"] == signature:
        space.echo(f"{label}: reusing {kept} (same cases and settings)")
        space.timings[label] = found["seconds"]
        net.load_state_dict(found["state"])
        return net.eval()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images = np.concatenate([channels(c.volume, inputs) for c in cases])
    targets = np.concatenate([label_targets(c.label, classes) for c in cases])
    foreground = np.flatnonzero(targets.reshape(len(targets), -1).any(axis=1))
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    schedule = torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=steps, power=0.9)
    loss_fn = DiceCELoss(sigmoid=True, batch=True)
    with RunTracker(MLFLOW_EXPERIMENT, run_name=f"{space.name}/{label}", tracking_uri=space.tracking_uri,
                    tags={"pmm.mode": "experiment-unet", "pmm.experiment": space.name}) as tracker, space.timed(label):
        tracker.log_params({"inputs": ",".join(inputs), "classes": ",".join(classes), "steps": steps,
                            "train_slices": len(images)})
        net.train()
        losses = []
        for step, batch in enumerate(unet_batches(len(images), foreground, steps, rng), start=1):
            optimizer.zero_grad()
            inputs_of, targets_of = torch.from_numpy(images[batch]), torch.from_numpy(targets[batch])
            if augmentation:
                inputs_of, targets_of = augmented(inputs_of, targets_of, rng)
            loss = loss_fn(net(inputs_of), targets_of)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            if step % LOG_EVERY == 0 or step == steps:
                tracker.log_metrics({"train/loss": float(np.mean(losses))}, step)
                losses = []
    kept.parent.mkdir(parents=True, exist_ok=True)
    partial = kept.with_suffix(".partial")
    torch.save({"signature": signature, "seconds": space.timings[label], "state": net.state_dict()}, partial)
    partial.replace(kept)  # a run killed while saving leaves no half-written U-Net to reuse
    return net.eval()


@torch.no_grad()
def case_dice(net: UNet, image: np.ndarray, label: np.ndarray, classes: dict[str, tuple[int, ...]]) -> np.ndarray:
    """Dice per class over the whole case (slices stacked); 1 when both truth and prediction are empty."""
    prediction = torch.sigmoid(net(torch.from_numpy(image))) > 0.5                      # (Z, C, H, W)
    truth = torch.from_numpy(label_targets(label, classes)) > 0.5
    as_volume = lambda t: t.permute(1, 0, 2, 3)[None].float()                          # noqa: E731  (1, C, Z, H, W)
    return compute_dice(as_volume(prediction), as_volume(truth), ignore_empty=False)[0].numpy()


def unet_seeds(setting) -> Callable[[str], int]:
    """`[extra] unet_seeds`: U-Nets per input set, one number for every site or a table by site
    (`{ ISLES = 3 }`: the others keep 1)."""
    table = setting if isinstance(setting, dict) else {site: setting for site in TASKS}
    if unknown := [site for site in table if site not in TASKS]:
        raise PmmError(f"[extra] unet_seeds: unknown site {unknown[0]!r}; choose from {', '.join(TASKS)}")
    for site, count in table.items():
        if not isinstance(count, int) or count < 1:
            raise PmmError(f"[extra] unet_seeds: {site} = {count!r}; give a whole number of U-Nets, at least 1")
    return lambda site: table.get(site, 1)


def augmentation_setting(value) -> bool:
    """`[extra] unet_augmentation`: "nnunet" (nnU-Net's intensity transforms and mirroring) or "none"."""
    if value not in ("none", "nnunet"):
        raise PmmError(f"[extra] unet_augmentation = {value!r}: give \"nnunet\" (nnU-Net's intensity transforms and "
                       "mirroring on every U-Net batch) or \"none\"")
    return value == "nnunet"


def unet_label(label: str, index: int) -> str:
    """The first seed's U-Net keeps the plain label, so U-Nets trained before `unet_seeds` are reused."""
    return label if index == 0 else f"{label}-seed{index + 1}"


def seed_mean_dice(nets: list[UNet], cases: list[StandardizedCase], inputs: tuple[str, ...],
                   classes: dict[str, tuple[int, ...]]) -> list[np.ndarray]:
    """Each case's Dice per class, averaged over U-Nets trained with different seeds: with a few
    test cases one U-Net's run moves the Dice by as much as a missing modality costs."""
    return [np.mean([case_dice(net, channels(c.volume, inputs), c.label, classes) for net in nets], axis=0)
            for c in cases]


def ways(rows: list[dict]) -> list[str]:
    """The columns in order: "all real", "missing", then one "synthesized" per recipe."""
    return list(dict.fromkeys(r["column"] for r in rows))


def dice_cell(rows: list[dict], site: str, name: str) -> dict[str, dict]:
    """column ("all real", "missing", "synthesized" or "synthesized (<recipe>)") -> that row of one site's class."""
    return {r["column"]: r for r in rows if r["site"] == site and r["class"] == name}


def recovered(found: dict[str, dict], column: str) -> str:
    """`column`'s share of the Dice the missing modality costs, with its 90 % paired-bootstrap
    interval over cases where the rows hold each case's Dice (`recovery`); "" with no cost."""
    share = recovered_share(found["all real"]["dice_mean"], found["missing"]["dice_mean"], found[column]["dice_mean"])
    if share is None:
        return ""
    per_case = [found[w].get("case_dice") for w in ("all real", "missing", column)]
    interval = share_interval(*per_case) if all(d is not None for d in per_case) else None
    return f" ({share:.0%}" + (f"; 90 % interval {interval[0]:.0%} to {interval[1]:.0%})" if interval else ")")


def figure(rows: list[dict]):
    """Grouped bars: Dice per site and class, all real / missing / synthesized (paper Fig. 2c)."""
    groups = [(site, name) for site, task in TASKS.items() for name in task.classes]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    grouped_bars(ax, [f"{site} {name}" for site, name in groups],
                 {way: [dice_cell(rows, *g)[way]["dice_mean"] for g in groups] for way in ways(rows)},
                 {way: [dice_cell(rows, *g)[way]["dice_std"] for g in groups] for way in ways(rows)})
    ax.set_ylabel("test Dice")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Downstream segmentation: the missing modality real, absent or synthesized")
    return fig


def synthesis_models(space: Workspace) -> dict[str, Path]:
    """recipe -> its checkpoint: `full` for the paper's recipe, `pathology-<variant>` otherwise
    (the labels and settings of `pmm experiment pathology`, so either experiment reuses the other's)."""
    recipes = list(space.settings.extra.get("synthesis", ["paper"]))
    if unknown := [r for r in recipes if r not in VARIANTS]:
        raise PmmError(f"[extra] synthesis: unknown recipe {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    models = {}
    for recipe in recipes:
        if recipe == "paper":
            models[recipe] = train_central(space, "full", list(SITE_NAMES))
        else:
            pathology, data = variant_setup(space, recipe)
            models[recipe] = train_central(space, f"pathology-{recipe}", list(SITE_NAMES), data=data,
                                           options=space.settings.training_options(pathology=pathology))
    return models


def run(space: Workspace, doc: Path | None, command: str) -> Path:
    s = space.settings
    if "unet_epochs" in s.extra:  # a settings file from before U-Nets trained by batches
        raise PmmError("[extra] unet_epochs is now unet_steps: batches of 16 slices per U-Net, the same for every "
                       "site (4000 is about 60 epochs of the phantom's BraTS); rename it")
    steps = int(s.extra.get("unet_steps", 4000))
    seeds_of = unet_seeds(s.extra.get("unet_seeds", 1))
    heldout = heldout_setting(s.extra.get("heldout_cases", 0))
    augmentation = augmentation_setting(s.extra.get("unet_augmentation", "none"))
    named = "-augmented" if augmentation else ""
    space.prepare()
    models = synthesis_models(space)
    column = {r: "synthesized" if len(models) == 1 else f"synthesized ({r})" for r in models}
    rows, metrics = [], {}
    for site, task in TASKS.items():
        site_dir = space.site_dir(site)
        train, test = labelled_cases(site_dir, "train", task.inputs), labelled_cases(site_dir, "test", task.inputs)
        if heldout:
            heldout_toml, heldout_ids = heldout_site(space, site, heldout)
            test += real_cases(heldout_toml, site_dir, task.inputs, space.runs / "heldout" / site, heldout_ids)
        without = tuple(m for m in task.inputs if m != task.missing)
        seeds = seeds_of(site)
        real_nets = [train_unet(space, unet_label(f"unet-{site}-all{named}", k), train, task.inputs, task.classes,
                                steps, s.seed + k, augmentation) for k in range(seeds)]
        missing_nets = [train_unet(space, unet_label(f"unet-{site}-without-{task.missing}{named}", k), train, without,
                                   task.classes, steps, s.seed + k, augmentation) for k in range(seeds)]
        scores = {("all real", "all real"): seed_mean_dice(real_nets, test, task.inputs, task.classes),
                  ("missing", f"{task.missing} missing"): seed_mean_dice(missing_nets, test, without, task.classes)}
        for recipe, checkpoint in models.items():
            work = space.runs / "completion" / (site if recipe == "paper" else f"{recipe}/{site}")
            trained = load_trained_model(checkpoint, default_device())
            with space.timed(f"complete-{site}" + ("" if recipe == "paper" else f"-{recipe}")):
                completed = {c.case_id: c for c in completed_cases(
                    trained, space.phantom / "sites" / f"{site.lower()}.toml", site_dir, task.inputs, task.missing, work)}
                if heldout:
                    completed |= {c.case_id: c for c in completed_cases(
                        trained, heldout_toml, site_dir, task.inputs, task.missing, work / f"heldout-{heldout}",
                        heldout_ids)}
            filled = [completed[c.case_id] for c in test]
            scores[(column[recipe], f"{task.missing} {column[recipe]}")] = seed_mean_dice(real_nets, filled, task.inputs,
                                                                                          task.classes)
        for (name_of_column, way), values in scores.items():
            values = np.asarray(values)
            for index, name in enumerate(task.classes):
                rows.append({"site": site, "class": name, "way": way, "column": name_of_column,
                             "dice_mean": float(values[:, index].mean()), "dice_std": float(values[:, index].std()),
                             "cases": len(values), "case_ids": [c.case_id for c in test],
                             "case_dice": values[:, index].tolist()})
                metrics[f"{site}/{name}/{way.replace(' ', '_').replace('(', '').replace(')', '')}/dice"] = \
                    float(values[:, index].mean())
    columns = ways(rows)
    several = {site: seeds_of(site) for site in TASKS if seeds_of(site) > 1}
    seed_note = ("; each case's Dice is its mean over U-Nets of seeds " + ", ".join(
        f"{s.seed}-{s.seed + n - 1} for {site}" for site, n in several.items())) if several else ""
    heldout_note = (f" and on {heldout} held-out case{'s' if heldout != 1 else ''} per site (the site's next cases, never in the phantom any "
                    f"model trained on)") if heldout else ""
    counts = {site: next(r["cases"] for r in rows if r["site"] == site) for site in TASKS}
    cases_note = "cases: " + ", ".join(f"{n} for {site}" for site, n in counts.items())
    section = [f"## Downstream segmentation (paper Fig. 2c){space.title_suffix}", "",
               f"MONAI 2D U-Nets ({steps} batches of {BATCH} slices for every site, learning rate decayed "
               f"polynomially; batch Dice + cross-entropy, a third of every batch from labelled slices"
               f"{'; nnU-Net intensity augmentation and mirroring' if augmentation else ''}) on the phantom's training "
               f"split, Dice on its test split"
               f"{heldout_note} (mean ± std over {cases_note}{seed_note}). Synthesis: the full PMM-Synth model trained on all four sites "
               f"({s.epochs} epochs; recipes: {', '.join(models)}, see `pmm experiment pathology`), filling the "
               f"missing modality of the test cases with `pmm complete`'s code (completed copy in the site's layout "
               f"and scanner scale, then prepared like any site). In brackets: the fraction of the Dice the missing "
               f"modality costs that the synthesis recovers, with its 90 % paired-bootstrap interval over cases.", "",
               "| site | class | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    for site, task in TASKS.items():
        for name in task.classes:
            found = dice_cell(rows, site, name)
            cells = [f"{found[w]['dice_mean']:.3f} ± {found[w]['dice_std']:.3f}" for w in columns]
            cells = [cell + (recovered(found, w) if w.startswith("synthesized") else "") for w, cell in zip(columns, cells)]
            section.append(f"| {site} | {name} | " + " | ".join(cells) + " |")
    section += ["", "Missing modality: " + ", ".join(f"{site} {task.missing}" for site, task in TASKS.items()) + ".",
                "", f"![segmentation Dice](results/{space.name}.png)"]
    path = publish(space, "\n".join(section), {"rows": rows}, metrics, {f"{space.name}.png": figure(rows)}, doc, command)
    space.echo("\n".join(section))
    return path
