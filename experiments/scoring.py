"""Test-split scores of a trained model on a site, as `pmm evaluate` computes them.

Rows are `pmm evaluate`'s (site, task, method, PSNR/SSIM mean and std over test cases), with
`method` renamed to the experiment's variant; the linear baselines come along when asked for.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pmm.inference.model_loading import default_device, load_trained_model
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.evaluation.evaluate import SiteEvaluation, evaluate_site
from pmm_core.evaluation.report import evaluation_rows
from pmm_core.tasks import default_tasks


def evaluation(checkpoint: Path, site_dir: Path, baselines: bool = False, split: str = "test",
               protocols: tuple[str, ...] = ("model",)) -> SiteEvaluation:
    """`pmm evaluate`'s evaluation of `checkpoint` on one site, in the scale it was trained in for it."""
    device = default_device()
    trained = load_trained_model(checkpoint, device)
    fingerprint = load_fingerprint(site_dir)
    known = trained.site(fingerprint.site)
    if known is not None:
        known.refuse_seen_cases(fingerprint, split, checkpoint)
    tasks = trained.method.tasks(trained.options, default_tasks(fingerprint.site, fingerprint.modalities))
    return evaluate_site(trained.model, site_dir, tasks, split, device, 16, trained.options.min_brain_fraction,
                         baselines=baselines, standardization=known.intensity if known else None,
                         protocols=protocols, precision=trained.precision)


def variant_rows(result: SiteEvaluation, variant: str, oracle: bool = False) -> list[dict]:
    """The evaluation's rows with `method` pmm renamed to the experiment's variant."""
    rows = evaluation_rows(result)
    for row in rows:
        if row["method"] == "pmm":
            row["method"] = variant
    return [row for row in rows if oracle or row["method"] != "oracle"]


def score(checkpoint: Path, site_dir: Path, variant: str, baselines: bool = False, split: str = "test",
          protocols: tuple[str, ...] = ("model",), oracle: bool = False) -> list[dict]:
    """Rows of the given protocols (the model's own scale unless asked), in the scale the model
    was trained in for the site; the per-case linear ceiling only with `oracle` (it reads the truth)."""
    return variant_rows(evaluation(checkpoint, site_dir, baselines, split, protocols), variant, oracle)


def site_average(rows: list[dict], site: str, method: str, metric: str = "psnr_mean") -> float | None:
    """Mean over the site's tasks of one method (the paper's 'average' row); None without tasks."""
    values = [r[metric] for r in rows if r["site"] == site and r["method"] == method]
    return float(np.mean(values)) if values else None


def task_value(rows: list[dict], site: str, task: str, method: str, metric: str = "psnr_mean") -> float | None:
    return next((r[metric] for r in rows if r["site"] == site and r["task"] == task and r["method"] == method), None)
