"""The results table in the paper's format (PSNR / SSIM as mean ± std over cases), as text, CSV
rows and JSON, plus flat metric names shared by every run (`test/TTG/T1_to_T1C/psnr`).

Each row names its protocol (`protocols.py`): `model` (the scale the model was trained in, whose
scheme the row also names), `common` (the truth's own percentile window) and `brasyn` (the BraSyn
challenge's recipe). Where the site has lesion labels every row also scores inside the lesion
(PSNR, SSIM, contrast ratio: `lesion.py`)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from pmm_core.evaluation.evaluate import SiteEvaluation, Summary
from pmm_core.atomic import write_text_atomic
from pmm_core.tasks import metric_key

METHOD_LABELS = {"pmm": "pmm", "match": "baseline: source matched", "linear": "baseline: linear LS",
                 "oracle": "ceiling: linear on truth"}
BASELINES = ("match", "linear")  # fitted on the training split; `oracle` reads the test truth


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def table_rows(site: str, summary: Summary, protocol: str = "model", scheme: str = "") -> list[dict[str, Any]]:
    """One flat row per (task, method) of one protocol: what the CSV and JSON reports hold."""
    rows = []
    for task, methods in summary.items():
        for method, score in methods.items():
            rows.append({"site": site, "task": task, "method": method, "protocol": protocol, "scheme": scheme,
                         **{k: _rounded(v) for k, v in score.model_dump().items()}})
    return rows


def evaluation_rows(evaluation: SiteEvaluation) -> list[dict[str, Any]]:
    """Every protocol's rows of one site's evaluation, the model's own scale first."""
    return [row for protocol in evaluation.protocols
            for row in table_rows(evaluation.site, evaluation.summary(protocol), protocol, evaluation.scheme)]


def _pair(mean: float | None, std: float | None, digits: int) -> str:
    return "–" if mean is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def has_lesion_scores(rows: list[dict[str, Any]]) -> bool:
    return any(row.get("psnr_lesion_mean") is not None for row in rows)


def format_table(rows: list[dict[str, Any]], model_label: str = "pmm") -> str:
    """Plain-text table: site, task, method, PSNR and SSIM (mean ± std over cases), then inside the
    lesion PSNR, SSIM and the contrast ratio (1 is right), and the cases; one block per protocol.
    `model_label` names the evaluated model's rows (a peer method's checkpoint: pix2pix, MM-GAN)."""
    labels = METHOD_LABELS | {"pmm": model_label}
    header = (f"{'site':<7} {'task':<18} {'method':<25} {'PSNR (dB)':>14} {'SSIM':>13} {'lesion PSNR':>14} "
              f"{'lesion SSIM':>13} {'contrast':>13} {'cases':>5}")
    lines = []
    for protocol in dict.fromkeys(row["protocol"] for row in rows):
        block = [row for row in rows if row["protocol"] == protocol]
        lines += ["", PROTOCOL_TITLES[protocol].format(scheme=block[0]["scheme"]), header, "-" * len(header)]
        for row in block:
            lines.append(f"{row['site']:<7} {row['task']:<18} {labels[row['method']]:<25} "
                         f"{_pair(row['psnr_mean'], row['psnr_std'], 2):>14} {_pair(row['ssim_mean'], row['ssim_std'], 3):>13} "
                         f"{_pair(row['psnr_lesion_mean'], row['psnr_lesion_std'], 2):>14} "
                         f"{_pair(row['ssim_lesion_mean'], row['ssim_lesion_std'], 3):>13} "
                         f"{_pair(row['contrast_mean'], row['contrast_std'], 2):>13} {int(row['cases']):>5}")
    unlabelled = [site for site in dict.fromkeys(row["site"] for row in rows)
                  if not has_lesion_scores([row for row in rows if row["site"] == site])]
    if unlabelled:
        lines += ["", f"{', '.join(unlabelled)}: no lesion label in the scored cases, so nothing is scored inside a lesion."]
    return "\n".join(lines[1:])


PROTOCOL_TITLES = {
    "model": "in the model's scale ({scheme} standardization, per-slice PSNR/SSIM)",
    "common": "in the truth's own 0.5-99.5 percentile window (comparable across schemes)",
    "brasyn": "BraSyn protocol (each volume clipped to its own 0.5-99.5 percentiles; 3D SSIM outside / inside the lesion)",
}


def flat_metrics(prefix: str, site: str, summary: Summary, method: str = "pmm", protocol: str = "model") -> dict[str, float]:
    """{'<prefix>/<site>/<task>/psnr': …, '…/ssim': …} for one method, e.g. `val/TTG/T1_T2_to_FLAIR/psnr`;
    a protocol other than the model's scale is a path segment (`test/TTG/T1_to_T1C/brasyn/psnr`)."""
    metrics = {}
    for task, methods in summary.items():
        if method in methods:
            suffix = "" if method == "pmm" else f"/{method}"
            key = metric_key(task) + ("" if protocol == "model" else f"/{protocol}")
            score = methods[method]
            metrics[f"{prefix}/{site}/{key}/psnr{suffix}"] = score.psnr_mean
            metrics[f"{prefix}/{site}/{key}/ssim{suffix}"] = score.ssim_mean
            for name in ("psnr_lesion", "ssim_lesion", "contrast"):
                if (value := getattr(score, f"{name}_mean")) is not None:
                    metrics[f"{prefix}/{site}/{key}/{name}{suffix}"] = value
    return metrics


def write_reports(rows: list[dict[str, Any]], folder: Path, stem: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["site"])
    writer.writeheader()
    writer.writerows(rows)
    csv_path, json_path = folder / f"{stem}.csv", folder / f"{stem}.json"
    write_text_atomic(csv_path, buffer.getvalue())
    write_text_atomic(json_path, json.dumps(rows, indent=2))
    return csv_path, json_path
