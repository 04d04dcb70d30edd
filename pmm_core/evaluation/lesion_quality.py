"""PSNR inside the lesion beside PSNR over the brain: the quick quality check of the benchmarks.

A synthesis is judged by its pathology (the enhancing rim on T1C, the infarct on DWI), and a
whole-brain number hides it: healthy tissue is most of the brain and easy. The benchmarks that
compare training paths at equal wall time (precision, the GPU check) score both here, in the
model's own [0, 1] scale, voxel-wise over the region (not per slice), so a path that learns the
brain but loses the lesion shows it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pmm_core.data.case_volume import load_case_volume
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.evaluation.evaluate import synthesize_slices
from pmm_core.evaluation.lesion import region_psnr
from pmm_core.tasks import default_tasks
from pmm_core.modalities import MODALITIES
from pmm_core.training.conditions import task_condition
from pmm_core.training.precision import Precision


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 2) if values else None


def lesion_and_brain_psnr(model: torch.nn.Module, site_dirs: list[Path], device: torch.device | str,
                          precision: Precision | None = None, split: str = "val", min_brain_fraction: float = 0.05,
                          max_cases: int | None = None) -> dict:
    """Over every (case, paper task) of each site's `split`: mean brain PSNR and, for cases with a
    lesion label, mean lesion PSNR; per site and averaged over the sites that have each."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    per_site = {}
    for site_dir in site_dirs:
        fingerprint = load_fingerprint(site_dir)
        tasks = default_tasks(fingerprint.site, fingerprint.modalities)
        brain, lesion = [], []
        for case_id in fingerprint.split_cases(split)[:max_cases]:
            case = load_case_volume(site_dir, case_id, min_brain_fraction, with_label=True)
            if case is None:
                continue
            for task in tasks:
                if not case.has((task.target, *task.sources)):
                    continue
                truth = case.volume[:, MODALITIES.index(task.target)]
                prediction = synthesize_slices(model, case.volume, task_condition(list(task.sources)),
                                               fingerprint.dataset_id, device, 16, task.target, precision)
                prediction = prediction * (case.mask > 0)
                brain.append(region_psnr(prediction, truth, case.mask > 0))
                if case.label is not None:
                    score = region_psnr(prediction, truth, (case.label > 0) & (case.mask > 0))
                    if score is not None:
                        lesion.append(score)
        per_site[fingerprint.site] = {"brain_psnr": _mean([b for b in brain if b is not None]),
                                      "lesion_psnr": _mean(lesion), "pairs": len(brain), "lesion_pairs": len(lesion)}
    model.train(was_training)
    sites = per_site.values()
    return {"brain_psnr": _mean([s["brain_psnr"] for s in sites if s["brain_psnr"] is not None]),
            "lesion_psnr": _mean([s["lesion_psnr"] for s in sites if s["lesion_psnr"] is not None]),
            "per_site": per_site}
