"""Evaluate a model on one prepared site: every task, every case of a split, plus baselines.

For each case that has the task's sources and target, the model synthesises the target slice by
slice (batched) in the intensity scale it was trained in (`standardization`, from its checkpoint;
the site's fingerprint when not given). Each protocol (`protocols.py`: the model's scale, the
truth's common window, BraSyn's recipe) scores it per case; cases are summarised as mean ± std.
The baselines (see baselines.py: `match` and `linear` fitted on the training split, `oracle`
refitted on each case's truth) are fitted in the same scale and scored on exactly the same slices.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict

from pmm_core.data.case_volume import load_case_volume
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.intensity import SiteStandardization
from pmm_core.evaluation.baselines import MAX_FIT_CASES, NormalEquations, apply_fit, least_squares_fit
from pmm_core.evaluation.lesion import lesion_region
from pmm_core.evaluation.protocols import PROTOCOLS, CaseScore, TruthView, score_protocol
from pmm_core.tasks import Task
from pmm_core.modalities import MODALITIES
from pmm_core.training.conditions import task_condition
from pmm_core.training.precision import Precision, resolve_precision

METHODS = ("pmm", "match", "linear", "oracle")


@dataclass
class Example:
    """One slice for a montage (sources | truth | synthesis | |error|): of all the split's cases,
    the slice with the largest lesion where the site has labels, else the one with the most brain."""

    task: str
    sources: np.ndarray   # (S, H, W)
    synthesis: np.ndarray
    truth: np.ndarray
    case: str = ""
    slice_index: int = 0
    lesion: np.ndarray | None = None  # (H, W) bool: the lesion, outlined on the montage
    area: tuple[int, int] = (0, 0)    # (lesion, brain) pixels: the larger picks the slice


def _example(task: Task, case_id: str, mask: np.ndarray, lesion: np.ndarray | None, sources: np.ndarray,
             synthesis: np.ndarray, truth: np.ndarray) -> Example:
    brain = (mask > 0).reshape(mask.shape[0], -1).sum(1)
    injured = lesion.reshape(mask.shape[0], -1).sum(1) if lesion is not None else np.zeros_like(brain)
    index = max(range(len(brain)), key=lambda i: (injured[i], brain[i]))
    return Example(task.name, sources[:, index], synthesis[index], truth[index], case_id, index,
                   None if lesion is None else lesion[index], (int(injured[index]), int(brain[index])))


class MethodScore(BaseModel):
    """One method on one task: PSNR (dB) and SSIM as mean and std over cases, and where cases have
    a lesion label, PSNR, SSIM and the contrast ratio inside the lesion (`lesion.py`) over those cases."""

    model_config = ConfigDict(frozen=True)

    psnr_mean: float
    psnr_std: float
    ssim_mean: float
    ssim_std: float
    cases: int
    psnr_lesion_mean: float | None = None
    psnr_lesion_std: float | None = None
    ssim_lesion_mean: float | None = None
    ssim_lesion_std: float | None = None
    contrast_mean: float | None = None
    contrast_std: float | None = None
    lesion_cases: int = 0

    @classmethod
    def of(cls, rows: list[CaseScore]) -> "MethodScore":
        psnr, ssim = np.array([r.psnr for r in rows]), np.array([r.ssim for r in rows])
        lesion = {}
        for name in ("psnr_lesion", "ssim_lesion", "contrast"):
            values = np.array([v for r in rows if (v := getattr(r, name)) is not None and np.isfinite(v)])
            lesion |= {f"{name}_mean": float(values.mean()), f"{name}_std": float(values.std())} if values.size else {}
        return cls(psnr_mean=float(psnr.mean()), psnr_std=float(psnr.std()), ssim_mean=float(np.nanmean(ssim)),
                   ssim_std=float(np.nanstd(ssim)), cases=len(rows),
                   lesion_cases=sum(r.psnr_lesion is not None for r in rows), **lesion)


Summary = dict[str, dict[str, MethodScore]]  # task name → method → score


@dataclass
class SiteEvaluation:
    site: str
    split: str
    scheme: str                                    # the intensity scheme the model was scored in
    protocols: tuple[str, ...] = PROTOCOLS
    # protocol → task → method → one score per case
    per_case: dict[str, dict[str, dict[str, list[CaseScore]]]] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)

    def summary(self, protocol: str | None = None) -> Summary:
        """task → method → PSNR/SSIM mean and std over cases, and the number of cases (a method
        with no scored case is left out of its task); `protocol` defaults to the first scored
        (`model` unless an evaluation was asked for other row sets only)."""
        protocol = protocol or self.protocols[0]
        return {task: {method: MethodScore.of(rows) for method, rows in methods.items() if rows}
                for task, methods in self.per_case[protocol].items()}


@torch.no_grad()
def synthesize_slices(model: torch.nn.Module, volume: np.ndarray, sc: torch.Tensor, dataset_id: int,
                      device: torch.device, batch_size: int, target: str,
                      precision: Precision | None = None) -> np.ndarray:
    """The synthesized `target` (Z, H, W) for a zero-filled volume (Z, 6, H, W), the non-sources
    masked out first; only the target's decoder runs, in `precision` (default float32; the model
    must be in its layout) with float32 out."""
    precision = precision or resolve_precision("float32", False, device)
    planes = []
    sc = sc.cpu().float()  # the streams are chosen on the host
    on_device = sc.to(device)
    index = MODALITIES.index(target)
    wanted = torch.zeros(len(MODALITIES))
    wanted[index] = 1
    for start in range(0, volume.shape[0], batch_size):
        x = precision.prepare_input(torch.from_numpy(volume[start:start + batch_size]).to(device)
                                    * on_device[None, :, None, None])
        ids = torch.full((x.shape[0],), dataset_id, dtype=torch.int64, device=device)
        with precision.autocast():
            planes.append(model(x, sc, ids, wanted)[:, index].float().cpu().numpy())
    return np.concatenate(planes)


def _source_channels(volume: np.ndarray, task: Task) -> np.ndarray:
    return volume[:, [MODALITIES.index(m) for m in task.sources]].transpose(1, 0, 2, 3)


def fit_baselines(site_dir: Path, tasks: list[Task], min_brain_fraction: float,
                  standardization: SiteStandardization | None = None,
                  max_cases: int = MAX_FIT_CASES) -> dict[str, dict[str, np.ndarray]]:
    """task → {'match': coefficients, 'linear': coefficients}, least squares over the training split."""
    fingerprint = load_fingerprint(site_dir)
    equations = {t.name: {"match": NormalEquations(1), "linear": NormalEquations(len(t.sources))} for t in tasks}
    for case_id in fingerprint.split.get("train", [])[:max_cases]:
        case = load_case_volume(site_dir, case_id, min_brain_fraction, standardization=standardization)
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
                  max_cases: int | None = None, baselines: bool = True,
                  standardization: SiteStandardization | None = None,
                  protocols: tuple[str, ...] = PROTOCOLS, precision: Precision | None = None) -> SiteEvaluation:
    """`baselines=False` scores the model alone (validation during training needs no baselines);
    `standardization` is the scale the model was trained in (the site's fingerprint when None);
    `precision` what the model computes in (default float32)."""
    fingerprint = load_fingerprint(site_dir)
    standardization = standardization or fingerprint.intensity
    cases = fingerprint.split_cases(split)[:max_cases]
    device = torch.device(device)
    was_training = model.training
    model.eval()
    result = SiteEvaluation(site=fingerprint.site, split=split, scheme=standardization.scheme, protocols=protocols)
    for protocol in protocols:
        result.per_case[protocol] = {task.name: {method: [] for method in METHODS} for task in tasks}
    fits = (fit_baselines(site_dir, tasks, min_brain_fraction, standardization) if baselines
            else {t.name: {} for t in tasks})
    for case_id in cases:
        case = load_case_volume(site_dir, case_id, min_brain_fraction, with_label=True,
                                standardization=standardization)
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
                                          device, batch_size, task.target, precision) * (mask > 0)
            candidates = {"pmm": synthesis}
            for method, coefficients in fits[task.name].items():
                sources = source_channels[:1] if method == "match" else source_channels
                candidates[method] = apply_fit(coefficients, sources, mask)
            if baselines:
                candidates["oracle"] = least_squares_fit(source_channels, truth, mask)
            view = TruthView(case_id, truth, case.anchor_relative(task.target), mask, case.label,
                             case.intensity[task.target], task.target, standardization)
            for protocol in protocols:
                for method, prediction in candidates.items():
                    if protocol == "brasyn" and method == "oracle":
                        continue  # a ceiling of linear mapping in the model's scale; BraSyn rescales each volume
                    result.per_case[protocol][task.name][method].append(score_protocol(protocol, view, prediction))
            example = _example(task, case_id, mask, lesion_region(case.label, mask), source_channels, synthesis, truth)
            known = next((i for i, e in enumerate(result.examples) if e.task == task.name), None)
            if known is None:
                result.examples.append(example)
            elif example.area > result.examples[known].area:
                result.examples[known] = example
    model.train(was_training)
    return result
