"""The results table in the paper's format (PSNR / SSIM as mean ± std over cases), as text, CSV
rows and JSON, plus flat metric names shared by every run (`test/TTG/T1_to_T1C/psnr`)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from pmm_core.evaluation.evaluate import Summary
from pmm_core.evaluation.tasks import metric_key

METHOD_LABELS = {"pmm": "pmm", "match": "baseline: source matched", "linear": "baseline: linear LS",
                 "oracle": "ceiling: linear on truth"}
BASELINES = ("match", "linear")  # fitted on the training split; `oracle` reads the test truth


def table_rows(site: str, summary: Summary) -> list[dict[str, Any]]:
    """One flat row per (task, method): what the CSV and JSON reports hold."""
    rows = []
    for task, methods in summary.items():
        for method, score in methods.items():
            rows.append({"site": site, "task": task, "method": method,
                         **{k: round(v, 4) for k, v in score.model_dump().items()}})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table: site, task, method, PSNR mean ± std, SSIM mean ± std, cases."""
    header = f"{'site':<7} {'task':<18} {'method':<25} {'PSNR (dB)':>15} {'SSIM':>15} {'cases':>5}"
    lines = [header, "-" * len(header)]
    for row in rows:
        psnr = f"{row['psnr_mean']:.2f} ± {row['psnr_std']:.2f}"
        ssim = f"{row['ssim_mean']:.3f} ± {row['ssim_std']:.3f}"
        lines.append(f"{row['site']:<7} {row['task']:<18} {METHOD_LABELS[row['method']]:<25} {psnr:>15} {ssim:>15} {int(row['cases']):>5}")
    return "\n".join(lines)


def flat_metrics(prefix: str, site: str, summary: Summary, method: str = "pmm") -> dict[str, float]:
    """{'<prefix>/<site>/<task>/psnr': …, '…/ssim': …} for one method, e.g. `val/TTG/T1_T2_to_FLAIR/psnr`."""
    metrics = {}
    for task, methods in summary.items():
        if method in methods:
            suffix = "" if method == "pmm" else f"/{method}"
            key = metric_key(task)
            metrics[f"{prefix}/{site}/{key}/psnr{suffix}"] = methods[method].psnr_mean
            metrics[f"{prefix}/{site}/{key}/ssim{suffix}"] = methods[method].ssim_mean
    return metrics


def write_reports(rows: list[dict[str, Any]], folder: Path, stem: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["site"])
    writer.writeheader()
    writer.writerows(rows)
    csv_path, json_path = folder / f"{stem}.csv", folder / f"{stem}.json"
    csv_path.write_text(buffer.getvalue())
    json_path.write_text(json.dumps(rows, indent=2))
    return csv_path, json_path
