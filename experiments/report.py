"""An experiment's outputs: results.json, a markdown section, a PNG, an MLflow summary run, and
its section of docs/RESULTS.md (between markers, so experiments update their own part only)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from pmm.experiments.settings import MLFLOW_EXPERIMENT
from pmm.experiments.workspace import Workspace
from pmm_core.atomic import write_text_atomic
from pmm.tracking import RunTracker, flatten


def cell(row: dict | None) -> str:
    """'PSNR ± std / SSIM' as the paper prints a result, then the PSNR inside the lesion where the
    site has labels ('· L 18.3')."""
    if row is None:
        return "–"
    lesion = row.get("psnr_lesion_mean")
    return (f"{row['psnr_mean']:.2f} ± {row['psnr_std']:.2f} / {row['ssim_mean']:.3f}"
            + ("" if lesion is None else f" · L {lesion:.1f}"))


def grouped_bars(ax, groups: list[str], series: dict[str, list[float]],
                 errors: dict[str, list[float]] | None = None) -> None:
    """One bar per series side by side in each group, the group's name under its middle."""
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        ax.bar(np.arange(len(groups)) + i * width, values, width, label=name,
               yerr=(errors or {}).get(name), capsize=2)
    ax.set_xticks(np.arange(len(groups)) + width * (len(series) - 1) / 2, groups)


def update_doc(doc: Path, name: str, section: str) -> None:
    """Replace (or append) the `name` section of the results document."""
    begin, end = f"<!-- experiment:{name} -->", f"<!-- /experiment:{name} -->"
    text = doc.read_text() if doc.is_file() else "# Results\n\nReproductions of the paper's experiments; `pmm experiment --help`.\n"
    block = f"{begin}\n{section.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(doc, text)


def publish(space: Workspace, section: str, results: dict[str, Any], metrics: dict[str, float],
            figures: dict[str, Any], doc: Path | None, command: str) -> Path:
    """Write the results next to the runs, log the summary run to MLflow, update the document."""
    folder = space.runs
    folder.mkdir(parents=True, exist_ok=True)
    section = section.rstrip() + f"\n\nCommand: `{command}`. Wall time per step (s): " + \
        ", ".join(f"{k} {v:.0f}" for k, v in space.timings.items()) + ".\n"
    write_text_atomic(folder / "results.json", json.dumps({"command": command, "settings": space.settings.model_dump(),
                                                     "timings": space.timings, **results}, indent=2))
    write_text_atomic(folder / "results.md", section)
    for file_name, figure in figures.items():
        figure.savefig(folder / file_name, dpi=110, bbox_inches="tight")
    with RunTracker(MLFLOW_EXPERIMENT, run_name=f"{space.name}-summary", tracking_uri=space.tracking_uri,
                    tags={"pmm.mode": "experiment", "pmm.experiment": space.name, "pmm.command": command}) as tracker:
        tracker.log_params(flatten(space.settings.model_dump(mode="json")))
        tracker.log_metrics(metrics | {f"seconds/{k}": v for k, v in space.timings.items()}, 0)
        for path in [folder / "results.json", folder / "results.md", *(folder / f for f in figures)]:
            tracker.log_artifact(path)
    if doc is not None:
        images = doc.parent / "results"
        images.mkdir(parents=True, exist_ok=True)
        for file_name, figure in figures.items():
            figure.savefig(images / file_name, dpi=110, bbox_inches="tight")
        update_doc(doc, space.name, section)
    return folder / "results.md"
