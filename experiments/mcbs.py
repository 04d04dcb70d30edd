"""MCBS on and off at equal epochs: test quality and training time of the full model.

Off is the naive scheduler the paper replaces: batch 1, every slice its own synthesis
condition. Both train the same epochs on the same four sites with the same settings.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

from pmm.experiments.report import grouped_bars, publish
from pmm.experiments.scoring import score, site_average
from pmm.experiments.tables import describe_model
from pmm.experiments.variants import train_central
from pmm.experiments.workspace import SITE_NAMES, Workspace

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"mcbs-on": "MCBS (batch {batch})", "mcbs-off": "naive (batch 1)"}


def figure(rows: list[dict], labels: dict[str, str], timings: dict[str, float]):
    """Left: each site's average test PSNR, on against off; right: the training time of each."""
    fig, (quality, cost) = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [3, 1]})
    grouped_bars(quality, list(SITE_NAMES),
                 {label: [site_average(rows, site, variant) or 0.0 for site in SITE_NAMES] for variant, label in labels.items()})
    quality.set_ylabel("average test PSNR (dB)")
    low = min(v for v in (site_average(rows, s, k) for s in SITE_NAMES for k in labels) if v is not None)
    quality.set_ylim(max(low - 3, 0), None)
    quality.legend(fontsize=8)
    cost.bar(range(len(labels)), [timings.get(k, 0.0) for k in labels], color=["C0", "C1"])
    cost.set_xticks(range(len(labels)), ["MCBS", "naive"])
    cost.set_ylabel("training time (s)")
    fig.suptitle("MCBS on and off at equal epochs")
    fig.tight_layout()
    return fig


def run(space: Workspace, doc: Path | None, command: str) -> Path:
    space.prepare()
    sites = list(SITE_NAMES)
    models = {"mcbs-on": train_central(space, "mcbs-on", sites, mcbs=True),
              "mcbs-off": train_central(space, "mcbs-off", sites, mcbs=False)}
    rows = []
    with space.timed("evaluation"):
        for variant, checkpoint in models.items():
            for site in sites:
                rows += score(checkpoint, space.site_dir(site), variant)
    s = space.settings
    labels = {k: v.format(batch=s.batch_size) for k, v in LABELS.items()}
    section = [f"## MCBS on and off at equal epochs{space.title_suffix}", "",
               f"The full model on the four phantom sites ({s.cases_per_site} cases each), {s.epochs} epoch(s) each way, "
               f"model ({describe_model(s.model)}). Test split, average PSNR dB / SSIM over each site's paper tasks.", "",
               "| site | " + " | ".join(labels.values()) + " |", "|---|---|---|"]
    for site in sites:
        cells = [site_average(rows, site, v) for v in models]
        ssim = [site_average(rows, site, v, "ssim_mean") for v in models]
        if None not in cells:
            section.append(f"| {site} | " + " | ".join(f"{p:.2f} / {q:.3f}" for p, q in zip(cells, ssim)) + " |")
    on, off = space.timings.get("mcbs-on"), space.timings.get("mcbs-off")
    if on and off:
        section += ["", f"Training time: MCBS {on:.0f} s, naive {off:.0f} s for {s.epochs} epoch(s) "
                        f"(naive / MCBS = {off / on:.2f}x on this machine; the paper: 4.2x on an A100)."]
    metrics = {f"{site}/{v}/avg_psnr": a for site in sites for v in models
               if (a := site_average(rows, site, v)) is not None}
    section += ["", f"![MCBS on and off](results/{space.name}.png)"]
    path = publish(space, "\n".join(section), {"rows": rows}, metrics,
                   {f"{space.name}.png": figure(rows, labels, space.timings)}, doc, command)
    space.echo("\n".join(section))
    return path
