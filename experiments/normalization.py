"""Intensity standardization, chosen by measurement: the full model trained with each scheme.

Both arms read the same cached cases (the cache stores anchor-relative intensities, so a scheme
is only a site fingerprint, built for the same site TOMLs with `[preprocess] intensity` changed,
over a link to the phantom's case folders). Each arm is the full model (PFM + MCBS) on the four
phantom sites at the experiment's settings, scored on the test split:

- in the common window (the truth's own 0.5-99.5 percentiles), so the arms compare;
- in each scheme's own scale, with the linear maps fitted on the training split and refitted on
  each case's truth: their gap is how much of a target's scale is unpredictable in that scheme;
- in the BraSyn challenge's protocol.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

from pmm.experiments.cache_variants import variant_cache
from pmm.experiments.report import grouped_bars, publish
from pmm.experiments.scoring import score, site_average, task_value
from pmm.experiments.tables import describe_model
from pmm.experiments.variants import train_central
from pmm.experiments.workspace import SITE_NAMES, Workspace
from pmm_core.data.intensity import SCHEMES
from pmm_core.tasks import parse_task

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

KEY_TARGETS = ("T1C", "DWI")  # the targets whose scale a lesion sets (the issue behind this experiment)


def prepare_scheme(space: Workspace, scheme: str) -> str:
    """The phantom cache holding the four sites in `scheme` (`cache_variants.variant_cache`): the
    phantom's own where it was prepared so (its full model can then be reused), else `cache-<scheme>`."""
    return variant_cache(space, scheme, {"intensity": scheme})


def baseline_gap(rows: list[dict], site: str, task: str, scheme: str) -> tuple[float, float] | None:
    """(training-split linear map, per-case linear map) PSNR of a task in a scheme's own scale."""
    fitted = "linear" if len(parse_task(task).sources) > 1 else "match"
    train, oracle = _value(rows, "model", scheme, site, task, fitted), _value(rows, "model", scheme, site, task, "oracle")
    return None if train is None or oracle is None else (train, oracle)


def _rows(rows: list[dict], protocol: str, scheme: str) -> list[dict]:
    return [r for r in rows if r["protocol"] == protocol and r["variant"] == scheme]


def _value(rows: list[dict], protocol: str, scheme: str, site: str, task: str, method: str,
           metric: str = "psnr_mean") -> float | None:
    return task_value(_rows(rows, protocol, scheme), site, task, method, metric)


def common_average(rows: list[dict], scheme: str, site: str) -> float | None:
    """pmm's average PSNR over a site's tasks in the common window."""
    return site_average(_rows(rows, "common", scheme), site, "pmm")


def site_lines(rows: list[dict], site: str) -> list[str]:
    tasks = list(dict.fromkeys(r["task"] for r in rows if r["site"] == site))
    if not tasks:
        return [f"**{site}**: no test case has the modalities of any of its tasks.", ""]
    lines = [f"**{site}** (test PSNR dB; pmm and the training-split linear map in the common window; "
             "the gap between the training-split and the per-case linear map in each scheme's own scale; "
             "pmm in the BraSyn protocol: PSNR / SSIM / SSIM in the lesion)", "",
             "| task | " + " | ".join(f"{s}: pmm" for s in SCHEMES) + " | " +
             " | ".join(f"{s}: linear" for s in SCHEMES) + " | " + " | ".join(f"{s}: gap" for s in SCHEMES) +
             " | " + " | ".join(f"{s}: BraSyn" for s in SCHEMES) + " |",
             "|---" * (1 + 4 * len(SCHEMES)) + "|"]
    for task in tasks:
        fitted = "linear" if len(parse_task(task).sources) > 1 else "match"
        pmm = [_value(rows, "common", s, site, task, "pmm") for s in SCHEMES]
        linear = [_value(rows, "common", s, site, task, fitted) for s in SCHEMES]
        gaps = [baseline_gap(rows, site, task, s) for s in SCHEMES]
        brasyn = [(_value(rows, "brasyn", s, site, task, "pmm"), _value(rows, "brasyn", s, site, task, "pmm", "ssim_mean"),
                   _value(rows, "brasyn", s, site, task, "pmm", "ssim_lesion_mean")) for s in SCHEMES]
        cells = [_db(v) for v in pmm + linear]
        cells += ["–" if g is None else f"{g[1] - g[0]:.2f} ({g[0]:.2f} → {g[1]:.2f})" for g in gaps]
        cells += ["–" if b[0] is None else f"{b[0]:.2f} / {b[1]:.3f} / " + ("–" if b[2] is None else f"{b[2]:.3f}")
                  for b in brasyn]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    averages = [common_average(rows, s, site) for s in SCHEMES]
    lines.append("| average (pmm, common) | " + " | ".join(f"**{_db(a)}**" for a in averages) +
                 " |" + " |" * (3 * len(SCHEMES)))
    return lines + [""]


def _db(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def key_task_gaps(rows: list[dict]) -> dict[str, list[float]]:
    """scheme → the gaps (dB) of every T1C and DWI task of every site."""
    found: dict[str, list[float]] = {s: [] for s in SCHEMES}
    for site in SITE_NAMES:
        for task in dict.fromkeys(r["task"] for r in rows if r["site"] == site):
            if parse_task(task).target in KEY_TARGETS:
                for scheme in SCHEMES:
                    if (gap := baseline_gap(rows, site, task, scheme)) is not None:
                        found[scheme].append(gap[1] - gap[0])
    return found


def overall(rows: list[dict], scheme: str) -> float | None:
    """pmm's mean common-window PSNR over every site's tasks: what decides the default."""
    values = [common_average(rows, scheme, site) for site in SITE_NAMES]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def figure(rows: list[dict]):
    fig, ax = plt.subplots(figsize=(8, 3.3))
    grouped_bars(ax, list(SITE_NAMES), {
        f"{s} (pmm, common window)": [common_average(rows, s, site) or 0.0 for site in SITE_NAMES] for s in SCHEMES})
    ax.set_ylabel("average test PSNR (dB)")
    ax.legend(fontsize=8)
    ax.set_title("Intensity standardization: the full model trained with each scheme")
    return fig


def run(space: Workspace, doc: Path | None, command: str) -> Path:
    space.prepare()
    sites = list(SITE_NAMES)
    rows: list[dict] = []
    for scheme in SCHEMES:
        data = prepare_scheme(space, scheme)
        checkpoint = train_central(space, scheme, sites, data=data)
        with space.timed(f"evaluation-{scheme}"):
            for site in sites:
                scored = score(checkpoint, space.phantom / data / site, "pmm", baselines=True,
                               protocols=("model", "common", "brasyn"), oracle=True)
                rows += [r | {"variant": scheme} for r in scored]
    s = space.settings
    gaps = key_task_gaps(rows)
    means = {scheme: overall(rows, scheme) for scheme in SCHEMES}
    better = max((k for k in means if means[k] is not None), key=lambda k: means[k], default=None)
    section = [f"## Intensity standardization: tissue-anchored against per-volume percentiles{space.title_suffix}", "",
               f"The full model (PFM + MCBS) on the four phantom sites ({s.cases_per_site} cases each), {s.epochs} "
               f"epochs, model ({describe_model(s.model)}), once per scheme on the same cached cases. "
               "`tissue`: each volume divided by its parenchyma median, then by the site's learned upper bound; "
               "`percentile`: each volume's own 0.5-99.5 brain percentiles.", ""]
    for site in sites:
        section += site_lines(rows, site)
    section += ["T1C and DWI tasks, gap between the training-split and the per-case linear map (dB, mean over "
                "tasks and sites): " + ", ".join(f"{k} {sum(v) / len(v):.2f} over {len(v)} tasks" for k, v in gaps.items()
                                                 if v) + ".",
                "", "pmm's mean PSNR in the common window: " +
                ", ".join(f"{k} {_db(v)}" for k, v in means.items()) + (f"; better: **{better}**." if better else "."),
                "", f"![schemes](results/{space.name}.png)"]
    metrics = {f"{k}/mean_common_psnr": v for k, v in means.items() if v is not None}
    metrics |= {f"{k}/mean_key_gap": sum(v) / len(v) for k, v in gaps.items() if v}
    path = publish(space, "\n".join(section), {"rows": rows, "key_gaps": gaps, "means": means, "better": better},
                   metrics, {f"{space.name}.png": figure(rows)}, doc, command)
    space.echo("\n".join(section))
    return path
