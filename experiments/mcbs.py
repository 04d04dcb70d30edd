"""MCBS on and off at equal epochs: test quality and training time of the full model.

Off is the naive scheduler the paper replaces: batch 1, every slice its own synthesis
condition. Both train the same epochs on the same four sites with the same settings.
"""
from __future__ import annotations

from pathlib import Path

from experiments.report import publish
from experiments.scoring import score, site_average
from experiments.tables import describe_model
from experiments.variants import train_central
from experiments.workspace import SITE_NAMES, Workspace

LABELS = {"mcbs-on": "MCBS (batch {batch})", "mcbs-off": "naive (batch 1)"}


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
    path = publish(space, "\n".join(section), {"rows": rows}, metrics, {}, doc, command)
    space.echo("\n".join(section))
    return path
