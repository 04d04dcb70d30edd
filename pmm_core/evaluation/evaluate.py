"""Evaluate a model on one prepared site: every task, every case of a split, plus baselines.

For each case that has the task's sources and target, the model synthesises the target slice by
slice (batched); PSNR/SSIM per slice (see metrics.py) are averaged per case, then summarised as
mean ± std over cases. The baselines (see baselines.py: `match` and `linear` fitted on the
training split, `oracle` refitted on each case's truth) are scored on exactly the same slices.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict

from pmm_core.data.case_volume import load_case_volume
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.evaluation.baselines import MAX_FIT_CASES, NormalEquations, apply_fit, least_squares_fit
from pmm_core.evaluation.metrics import slice_psnr, slice_ssim
from pmm_core.evaluation.tasks import Task
from pmm_core.modalities import MODALITIES
from pmm_core.training.conditions import task_condition

METHODS = ("pmm", "match", "linear", "oracle")


@dataclass
class Example:
    """One slice for a montage: sources | synthesis | truth | |error|."""

    task: str
    sources: np.ndarray   # (S, H, W)
    synthesis: np.ndarray
    truth: np.ndarray


class MethodScore(BaseModel):
    """One method on one task: PSNR (dB) and SSIM as mean and std over cases."""

    model_config = ConfigDict(frozen=True)

    psnr_mean: float
    psnr_std: float
    ssim_mean: float
    ssim_std: float
    cases: int


Summary = dict[str, dict[str, MethodScore]]  # task name → method → score


@dataclass
class SiteEvaluation:
    site: str
    split: str
    per_case: dict[str, dict[str, list[tuple[str, float, float]]]] = field(default_factory=dict)  # task → method → (case, psnr, ssim)
    examples: list[Example] = field(default_factory=list)

    def summary(self) -> Summary:
        """task → method → PSNR/SSIM mean and std over cases, and the number of cases (a method
        with no scored case is left out of its task)."""
        table: Summary = {}
        for task, methods in self.per_case.items():
            table[task] = {}
            for method, rows in methods.items():
                if rows:
                    psnr = np.array([r[1] for r in rows])
                    ssim = np.array([r[2] for r in rows])
                    table[task][method] = MethodScore(psnr_mean=float(psnr.mean()), psnr_std=float(psnr.std()),
                                                      ssim_mean=float(ssim.mean()), ssim_std=float(ssim.std()),
                                                      cases=len(rows))
        return table


@torch.no_grad()
def synthesize_slices(model: torch.nn.Module, volume: np.ndarray, sc: torch.Tensor, dataset_id: int,
                      device: torch.device, batch_size: int, target: str) -> np.ndarray:
    """The synthesized `target` (Z, H, W) for a zero-filled volume (Z, 6, H, W), the non-sources
    masked out first; only the target's decoder runs."""
    planes = []
    sc = sc.to(device)
    index = MODALITIES.index(target)
    wanted = torch.zeros(len(MODALITIES), device=device)
    wanted[index] = 1
    for start in range(0, volume.shape[0], batch_size):
        x = torch.from_numpy(volume[start:start + batch_size]).to(device) * sc[None, :, None, None]
        ids = torch.full((x.shape[0],), dataset_id, dtype=torch.int64, device=device)
        planes.append(model(x, sc, ids, wanted)[:, index].float().cpu().numpy())
    return np.concatenate(planes)


def _scores(prediction: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    psnr = [slice_psnr(p, t) for p, t in zip(prediction, truth)]
    ssim = [slice_ssim(p, t) for p, t in zip(prediction, truth)]
    return float(np.mean(psnr)), float(np.mean(ssim))


def _source_channels(volume: np.ndarray, task: Task) -> np.ndarray:
    return volume[:, [MODALITIES.index(m) for m in task.sources]].transpose(1, 0, 2, 3)


def fit_baselines(site_dir: Path, tasks: list[Task], min_brain_fraction: float,
                  max_cases: int = MAX_FIT_CASES) -> dict[str, dict[str, np.ndarray]]:
    """task → {'match': coefficients, 'linear': coefficients}, least squares over the training split."""
    fingerprint = load_fingerprint(site_dir)
    equations = {t.name: {"match": NormalEquations(1), "linear": NormalEquations(len(t.sources))} for t in tasks}
    for case_id in fingerprint.split.get("train", [])[:max_cases]:
        case = load_case_volume(site_dir, case_id, min_brain_fraction)
        if case is None:
            continue
        volume, mask = case.volume, case.mask
        for task in tasks:
            if case.has((task.target, *task.sources)):
                sources, truth = _source_channels(volume, task), volume[:, MODALITIES.index(task.target)]
                equations[task.name]["match"].add(sources[:1], truth, mask)
                equations[task.name]["linear"].add(sources, truth, mask)
    fits: dict[str, dict[str, np.ndarray]] = {}
    for task in tasks:
        solved = {k: e.solve() for k, e in equations[task.name].items()}
        fits[task.name] = {k: v for k, v in solved.items() if v is not None and (k == "match" or len(task.sources) > 1)}
    return fits


def evaluate_site(model: torch.nn.Module, site_dir: Path, tasks: list[Task], split: str = "test",
                  device: torch.device | str = "cpu", batch_size: int = 16, min_brain_fraction: float = 0.05,
                  max_cases: int | None = None, baselines: bool = True) -> SiteEvaluation:
    """`baselines=False` scores the model alone (validation during training needs no baselines)."""
    fingerprint = load_fingerprint(site_dir)
    cases = fingerprint.split_cases(split)[:max_cases]
    device = torch.device(device)
    was_training = model.training
    model.eval()
    result = SiteEvaluation(site=fingerprint.site, split=split)
    for task in tasks:
        result.per_case[task.name] = {method: [] for method in METHODS}
    fits = fit_baselines(site_dir, tasks, min_brain_fraction) if baselines else {t.name: {} for t in tasks}
    for case_id in cases:
        case = load_case_volume(site_dir, case_id, min_brain_fraction)
        if case is None:
            continue
        volume, mask = case.volume, case.mask
        for task in tasks:
            if not case.has((task.target, *task.sources)):
                continue
            target = MODALITIES.index(task.target)
            source_channels = _source_channels(volume, task)
            truth = volume[:, target]
            synthesis = synthesize_slices(model, volume, task_condition(list(task.sources)), fingerprint.dataset_id,
                                          device, batch_size, task.target) * (mask > 0)
            candidates = {"pmm": synthesis}
            for method, coefficients in fits[task.name].items():
                sources = source_channels[:1] if method == "match" else source_channels
                candidates[method] = apply_fit(coefficients, sources, mask)
            if baselines:
                candidates["oracle"] = least_squares_fit(source_channels, truth, mask)
            for method, prediction in candidates.items():
                result.per_case[task.name][method].append((case_id, *_scores(prediction, truth)))
            if not any(e.task == task.name for e in result.examples):
                middle = int(np.argmax(mask.reshape(mask.shape[0], -1).sum(1)))
                result.examples.append(Example(task.name, source_channels[:, middle], synthesis[middle], truth[middle]))
    model.train(was_training)
    return result
