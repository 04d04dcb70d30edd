"""Why a synthesis loses the lesion: measured on the prepared phantom federation, nothing changed.

1. `batches`: what a training batch holds. MCBS groups slices by site and availability, not by
   content: per site, the share of training slices with any lesion, of brain pixels that are
   lesion (what the synthesis loss averages over), and of MCBS batches with no lesion pixel.
2. `clip`: the intensity standardization's ceiling. Under `tissue` a modality is divided by the
   site's `upper` (the largest 99.9th brain percentile of the training split) and clipped at 1:
   per site and modality, the share of lesion and of healthy voxels at the ceiling, on the
   training split and on the cases the model never saw (val + test), and the lesion's mean level.
3. `training`: the demo's model trained on the training split for a number of chunks of
   `--chunk-seconds` each, scored on the val split after each (whole brain and inside the lesion:
   PSNR, contrast ratio) beside the source-matched linear map: quality against training minutes.
   After the last chunk, the sigmoid's input (the decoders' last convolution) at lesion and at
   healthy voxels of the val targets: where it sits, and the share beyond ±4 (sigmoid slope
   under 0.018: a pixel there barely learns).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from bench.common import write_results
from bench.phantom_sites import SITE_NAMES, phantom_sites
from bench.training_speed import StepTimer, default_device, endless, model_options
from pmm_core.config.training import TrainingOptions
from pmm_core.data.cache import case_cache_dir, open_case_arrays, read_case_meta
from pmm_core.data.dataset import SliceDataset
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.samplers import MCBSBatchSampler
from pmm_core.evaluation.evaluate import evaluate_site, synthesize_slices
from pmm_core.tasks import default_tasks
from pmm_core.data.case_volume import load_case_volume
from pmm_core.modalities import MODALITIES
from pmm_core.training.conditions import task_condition
from pmm_core.training.precision import resolve_precision

SATURATED_LOGIT = 4.0  # |logit| beyond which sigmoid's slope is under 0.018 of its peak 0.25 x 4


def _label(site_dir, case_id) -> np.ndarray | None:
    folder = case_cache_dir(site_dir, case_id)
    return np.load(folder / "label.npy", mmap_mode="r") if read_case_meta(folder).has_label else None


def batch_rows(site_dirs, batch_size: int) -> list[dict]:
    """Lesion content of the training split's slices and of one epoch of MCBS batches, per site."""
    rows = []
    for site_dir in site_dirs:
        dataset = SliceDataset([site_dir], "train")
        lesion_px, brain_px = np.zeros(len(dataset)), np.zeros(len(dataset))
        labels = {}
        for index, (position, slice_index) in enumerate(dataset.slices):
            entry = dataset.cases[position]
            if entry.case_id not in labels:
                labels[entry.case_id] = _label(site_dir, entry.case_id)
            mask = open_case_arrays(entry.folder)[1][slice_index] > 0
            label = labels[entry.case_id]
            brain_px[index] = mask.sum()
            lesion_px[index] = 0 if label is None else ((label[slice_index] > 0) & mask).sum()
        batches = MCBSBatchSampler(dataset.group_keys(), batch_size, 0).epoch_batches(0)
        per_batch = np.array([lesion_px[b].sum() for b in batches])
        labelled = any(label is not None for label in labels.values())
        rows.append({"site": load_fingerprint(site_dir).site, "labelled": labelled, "slices": len(dataset),
                     "slices_with_lesion_pct": round(100 * float((lesion_px > 0).mean()), 1),
                     "lesion_of_brain_pixels_pct": round(100 * float(lesion_px.sum() / brain_px.sum()), 2),
                     "batches": len(batches), "batches_without_lesion_pct": round(100 * float((per_batch == 0).mean()), 1),
                     "median_lesion_px_per_batch": float(np.median(per_batch))})
    return rows


def clip_rows(site_dirs, min_brain_fraction: float) -> list[dict]:
    """Per site and modality: share of lesion / healthy voxels at the ceiling, seen and unseen cases."""
    rows = []
    for site_dir in site_dirs:
        fingerprint = load_fingerprint(site_dir)
        for split in ("train", "unseen"):
            case_ids = (fingerprint.split_cases("train") if split == "train"
                        else fingerprint.split_cases("val") + fingerprint.split_cases("test"))
            counts: dict[str, dict[str, list]] = {}
            for case_id in case_ids:
                case = load_case_volume(site_dir, case_id, min_brain_fraction, with_label=True)
                if case is None or case.label is None:
                    continue
                brain, lesion = case.mask > 0, (case.label > 0) & (case.mask > 0)
                for modality in case.modalities:
                    y = case.volume[:, MODALITIES.index(modality)]
                    c = counts.setdefault(modality, {"lesion": [], "healthy": [], "lesion_level": [], "healthy_level": []})
                    c["lesion"].append(y[lesion] >= 1.0)
                    c["healthy"].append(y[brain & ~lesion] >= 1.0)
                    c["lesion_level"].append(y[lesion])
                    c["healthy_level"].append(y[brain & ~lesion])
            for modality, c in counts.items():
                lesion, healthy = np.concatenate(c["lesion"]), np.concatenate(c["healthy"])
                if not lesion.size:
                    continue
                rows.append({"site": fingerprint.site, "cases": split, "modality": modality,
                             "upper": fingerprint.intensity.modalities[modality].upper,
                             "lesion_at_ceiling_pct": round(100 * float(lesion.mean()), 2),
                             "healthy_at_ceiling_pct": round(100 * float(healthy.mean()), 3),
                             "lesion_level": round(float(np.concatenate(c["lesion_level"]).mean()), 3),
                             "healthy_level": round(float(np.median(np.concatenate(c["healthy_level"]))), 3)})
    return rows


def _scores(model, site_dirs, device, precision, baselines: bool) -> dict:
    """Mean over (site, task) of the val split in the model's scale: brain and lesion PSNR, contrast."""
    found: dict[str, list[float]] = {}
    for site_dir in site_dirs:
        fingerprint = load_fingerprint(site_dir)
        tasks = default_tasks(fingerprint.site, fingerprint.modalities)
        summary = evaluate_site(model, site_dir, tasks, "val", device, 16, baselines=baselines, protocols=("model",),
                                precision=precision).summary()
        for methods in summary.values():
            for method, score in methods.items():
                if method not in ("pmm", "match"):
                    continue
                for key in ("psnr_mean", "psnr_lesion_mean", "contrast_mean"):
                    value = getattr(score, key)
                    if value is not None:
                        found.setdefault(f"{method}_{key.removesuffix('_mean')}", []).append(value)
    return {k: round(float(np.mean(v)), 3) for k, v in sorted(found.items())}


@torch.no_grad()
def sigmoid_rows(model, site_dirs, device, precision) -> list[dict]:
    """Where the decoders' last convolution (sigmoid's input) sits at lesion and healthy voxels."""
    logits: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: logits.append(out.float().cpu()))
             for name, m in model.named_modules() if name.endswith(".out") and isinstance(m, torch.nn.Conv2d)]
    rows = []
    try:
        for site_dir in site_dirs:
            fingerprint = load_fingerprint(site_dir)
            for task in default_tasks(fingerprint.site, fingerprint.modalities):
                values = {"lesion": [], "healthy": []}
                for case_id in fingerprint.split_cases("val"):
                    case = load_case_volume(site_dir, case_id, 0.05, with_label=True)
                    if case is None or case.label is None or not case.has((task.target, *task.sources)):
                        continue
                    logits.clear()
                    synthesize_slices(model, case.volume, task_condition(list(task.sources)), fingerprint.dataset_id,
                                      device, 16, task.target, precision)
                    z = torch.cat(logits).numpy()[:, 0]
                    brain, lesion = case.mask > 0, (case.label > 0) & (case.mask > 0)
                    values["lesion"].append(z[lesion])
                    values["healthy"].append(z[brain & ~lesion])
                if not values["lesion"]:
                    continue
                lesion, healthy = np.concatenate(values["lesion"]), np.concatenate(values["healthy"])
                rows.append({"site": fingerprint.site, "task": task.name,
                             "lesion_logit_mean": round(float(lesion.mean()), 2),
                             "healthy_logit_median": round(float(np.median(healthy)), 2),
                             "lesion_saturated_pct": round(100 * float((np.abs(lesion) > SATURATED_LOGIT).mean()), 1),
                             "healthy_saturated_pct": round(100 * float((np.abs(healthy) > SATURATED_LOGIT).mean()), 1)})
    finally:
        for hook in hooks:
            hook.remove()
    return rows


def training_rows(site_dirs, device, chunks: int, chunk_seconds: float, batch_size: int):
    options = TrainingOptions(batch_size=batch_size, learning_rate=1e-3, model=model_options("small"))
    precision = resolve_precision(options.precision, options.channels_last, device)
    timer = StepTimer.build(options.model, device, learning_rate=1e-3, training=options)
    dataset = SliceDataset(site_dirs, "train")
    batches = endless(DataLoader(dataset, batch_sampler=MCBSBatchSampler(dataset.group_keys(), batch_size, 0)))
    rows, trained, steps = [], 0.0, 0
    for chunk in range(1, chunks + 1):
        rate = timer.run(batches, chunk_seconds, warmup=0, min_steps=1)
        trained, steps = trained + rate.seconds, steps + rate.steps
        row = {"minutes": round(trained / 60, 1), "steps": steps,
               **_scores(timer.model, site_dirs, device, precision, baselines=chunk == chunks)}
        rows.append(row)
        print(f"  after {row['minutes']} min ({steps} steps): {row}", flush=True)
    return rows, sigmoid_rows(timer.model, site_dirs, device, precision), precision.name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=6, help="phantom cases per site (test size)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--chunks", type=int, default=4, help="training chunks, each scored on the val split; 0: skip")
    parser.add_argument("--chunk-seconds", type=float, default=150.0)
    parser.add_argument("--phantom", type=Path, default=None,
                        help="a prepared phantom federation folder to use instead of bench/.work's (its cache/ is read)")
    args = parser.parse_args(argv)
    device = default_device()
    site_dirs = ([args.phantom / "cache" / name for name in SITE_NAMES] if args.phantom
                 else phantom_sites(args.cases)[0])
    batches = batch_rows(site_dirs, args.batch_size)
    clip = clip_rows(site_dirs, 0.05)
    print("batches:", *batches, "clip:", *clip, sep="\n  ", flush=True)
    curve, sigmoid, precision = training_rows(site_dirs, device, args.chunks, args.chunk_seconds,
                                              args.batch_size) if args.chunks else ([], [], None)
    table = ["| site | training slices | with lesion % | lesion % of brain pixels | MCBS batches | without lesion % | "
             "median lesion px / batch |", "|---|---|---|---|---|---|---|"]
    table += [f"| {r['site']} | {r['slices']} | {r['slices_with_lesion_pct']} | {r['lesion_of_brain_pixels_pct']} | "
              f"{r['batches']} | {r['batches_without_lesion_pct']} | {r['median_lesion_px_per_batch']:.0f} |"
              for r in batches]
    table += ["", "| site | cases | modality | upper | lesion at ceiling % | healthy at ceiling % | lesion mean | "
                  "healthy median |", "|---|---|---|---|---|---|---|---|"]
    table += [f"| {r['site']} | {r['cases']} | {r['modality']} | {r['upper']} | {r['lesion_at_ceiling_pct']} | "
              f"{r['healthy_at_ceiling_pct']} | {r['lesion_level']} | {r['healthy_level']} |" for r in clip]
    if curve:
        table += ["", f"Training ({precision}): val split, mean over (site, task)", "",
                  "| minutes | steps | brain PSNR | lesion PSNR | contrast ratio | linear copy: brain / lesion / contrast |",
                  "|---|---|---|---|---|---|"]
        table += [f"| {r['minutes']} | {r['steps']} | {r.get('pmm_psnr')} | {r.get('pmm_psnr_lesion')} | "
                  f"{r.get('pmm_contrast')} | {r.get('match_psnr', '')} / {r.get('match_psnr_lesion', '')} / "
                  f"{r.get('match_contrast', '')} |" for r in curve]
        table += ["", "| site | task | lesion logit mean | healthy logit median | lesion beyond ±4 % | healthy beyond ±4 % |",
                  "|---|---|---|---|---|---|"]
        table += [f"| {r['site']} | {r['task']} | {r['lesion_logit_mean']} | {r['healthy_logit_median']} | "
                  f"{r['lesion_saturated_pct']} | {r['healthy_saturated_pct']} |" for r in sigmoid]
    write_results("lesion_budget", {"config": vars(args) | {"phantom": str(args.phantom)}, "batches": batches, "clip": clip, "training": curve,
                                    "sigmoid": sigmoid, "precision": precision}, table)


if __name__ == "__main__":
    main()
