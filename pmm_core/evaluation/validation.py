"""Validation during training, one function for the centralized trainer and every federated site.

PSNR/SSIM of the model alone (no baselines) on each site's val split, on that site's paper
tasks, under the metric names every run shares (`val/<SITE>/<task>/psnr|ssim`), plus their
means over all (site, task) pairs (`val/mean_psnr`, `val/mean_ssim`). Where a site's val cases
have lesion labels, PSNR inside the lesion too: per task (`…/psnr_lesion`), per site over its
tasks (`val/<SITE>/psnr_lesion`) and over every such pair (`val/mean_psnr_lesion`). The mean PSNR is the
score a centralized run keeps its best checkpoint by; a site's number of scored (case, task)
pairs weighs its numbers when the server averages them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pmm_core.config.training import TrainingOptions
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.evaluation.evaluate import Example, evaluate_site
from pmm_core.training.precision import resolve_precision
from pmm_core.evaluation.report import flat_metrics
from pmm_core.tasks import default_tasks
from pmm_core.methods import method_of


@dataclass
class Validation:
    metrics: dict[str, float]                      # per site and task, and the means (when any task was scored)
    cases: int                                     # (case, task) pairs scored
    examples: dict[str, list[Example]] = field(default_factory=dict)  # per site: montage slices

    @property
    def score(self) -> float:
        """Mean PSNR over every scored (site, task); -inf when nothing could be scored."""
        return self.metrics.get("val/mean_psnr", float("-inf"))


def validate(model: torch.nn.Module, site_dirs: list[Path], options: TrainingOptions, device: str | torch.device,
             max_cases: int | None = None) -> Validation:
    """Score `model` on the val split of each prepared site in `site_dirs`, in the precision the
    options train in (the model is already in its layout)."""
    precision = resolve_precision(options.precision, options.channels_last, device)
    metrics: dict[str, float] = {}
    psnr, ssim, lesion, cases, examples = [], [], [], 0, {}
    for site_dir in site_dirs:
        fingerprint = load_fingerprint(site_dir)
        tasks = method_of(options).tasks(options, default_tasks(fingerprint.site, fingerprint.modalities))
        result = evaluate_site(model, site_dir, tasks, "val", device,
                               options.batch_size, options.min_brain_fraction, max_cases, baselines=False,
                               protocols=("model",), precision=precision)
        summary = result.summary()
        metrics |= flat_metrics("val", fingerprint.site, summary)
        scores = [methods["pmm"] for methods in summary.values() if "pmm" in methods]
        psnr += [s.psnr_mean for s in scores]
        ssim += [s.ssim_mean for s in scores]
        cases += sum(s.cases for s in scores)
        site_lesion = [s.psnr_lesion_mean for s in scores if s.psnr_lesion_mean is not None]
        if site_lesion:
            metrics[f"val/{fingerprint.site}/psnr_lesion"] = float(np.mean(site_lesion))
            lesion += site_lesion
        examples[fingerprint.site] = result.examples
    if psnr:  # a site whose val cases serve no task reports none (the server averages what all report)
        metrics |= {"val/mean_psnr": float(np.mean(psnr)), "val/mean_ssim": float(np.mean(ssim))}
    if lesion:
        metrics["val/mean_psnr_lesion"] = float(np.mean(lesion))
    return Validation(metrics, cases, examples)
