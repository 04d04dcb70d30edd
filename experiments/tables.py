"""Tables 1 and 2: every site's one-to-one and many-to-one tasks, for every model the paper
compares, and the paper's three claims checked on our numbers.

Models: one model per site without PFM ("w/o PFM, single"), one multi-site model without PFM,
the full model (PFM + MCBS), the federated model (`pmm simulate`), the paper's peers trained in
the same harness (pix2pix: one model per site and task; MM-GAN: one model per site, the
"single-dataset" setting of the PMM-Synth paper), and `pmm evaluate`'s two linear baselines
(fitted on each site's training split). Budget: every single-site model, peers included, trains
the same number of epochs over its site's training split (pix2pix: the cases that have its task),
so each sees the same data as often; all are scored on the same test slices.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from pmm.experiments.report import cell, grouped_bars, publish
from pmm.experiments.scoring import score, site_average, task_value
from pmm.experiments.variants import peer_options, train_central, train_federated, train_pix2pix
from pmm.experiments.workspace import SITE_NAMES, Workspace
from pmm_core.config.model import ModelOptions
from pmm_core.tasks import PAPER_TASKS, parse_task

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

VARIANTS = {"single": "w/o PFM, single", "multi": "w/o PFM, multi", "full": "PMM-Synth (full)",
            "federated": "PMM-Synth, federated", "pix2pix": "pix2pix", "mmgan": "MM-GAN",
            "match": "source matched", "linear": "linear LS"}
PEERS = ("pix2pix", "mmgan")
CLOSE_DB = 1.0  # "federated close to centralized": within this many dB of PSNR on a site's average


def train_all(space: Workspace) -> dict[str, list[tuple[str, Path]]]:
    """variant -> [(site, model file)] (pix2pix: one per site and task)."""
    sites = list(SITE_NAMES)
    models = {"single": [(s, train_central(space, f"single-{s}", [s], pfm=False)) for s in sites]}
    multi, full = train_central(space, "multi", sites, pfm=False), train_central(space, "full", sites)
    models["multi"], models["full"] = [(s, multi) for s in sites], [(s, full) for s in sites]
    models["federated"] = list(train_federated(space, "federated", sites).items())
    models |= train_peers(space, [s for s in sites if s in space.settings.extra.get("peer_sites", sites)])
    return models


def train_peers(space: Workspace, sites: list[str]) -> dict[str, list[tuple[str, Path]]]:
    """pix2pix per site and paper task (`[extra] peer_tasks`: only the first so many), MM-GAN per
    site; a pix2pix task no training case of the site has is left out (said), as its row would be."""
    models: dict[str, list[tuple[str, Path]]] = {"pix2pix": [], "mmgan": []}
    for site in sites:
        for task in [parse_task(t) for t in PAPER_TASKS[site.upper()]][:space.settings.extra.get("peer_tasks")]:
            if (checkpoint := train_pix2pix(space, site, task)) is not None:
                models["pix2pix"].append((site, checkpoint))
        models["mmgan"].append((site, train_central(space, f"mmgan-{site}", [site], options=peer_options(space, "mmgan"))))
    return models


def score_all(space: Workspace, models: dict[str, list[tuple[str, Path]]]) -> list[dict]:
    rows = []
    with space.timed("evaluation"):
        for variant, trained in models.items():
            for site, checkpoint in trained:
                rows += score(checkpoint, space.site_dir(site), variant, baselines=variant == "full")
    return rows


def task_pairs(site: str) -> list[tuple[str, str]]:
    """(one-to-one, many-to-one) task pairs of a site: same target, the one source among the many."""
    tasks = [parse_task(t) for t in PAPER_TASKS[site.upper()]]
    return [(one.name, many.name) for one in tasks for many in tasks
            if len(one.sources) == 1 and len(many.sources) > 1 and one.target == many.target
            and set(one.sources) <= set(many.sources)]


def claims(rows: list[dict]) -> list[dict]:
    """Each claim per site: what the paper says, our numbers, held or not."""
    found = []
    for site in SITE_NAMES:
        avg = {v: site_average(rows, site, v) for v in ("single", "multi", "full", "federated")}
        if None in avg.values():
            continue
        # the paper's chain full > multi > single, one link at a time: which link fails says why
        found.append({"site": site, "claim": "full > w/o PFM multi (average PSNR): PFM helps the multi-site model",
                      "numbers": f"{avg['full']:.2f} vs {avg['multi']:.2f}", "holds": avg["full"] > avg["multi"]})
        found.append({"site": site, "claim": "w/o PFM multi > w/o PFM single (average PSNR): more sites help",
                      "numbers": f"{avg['multi']:.2f} vs {avg['single']:.2f}", "holds": avg["multi"] > avg["single"]})
        found.append({"site": site, "claim": f"federated within {CLOSE_DB:.0f} dB of centralized (average PSNR)",
                      "numbers": f"{avg['federated']:.2f} vs {avg['full']:.2f}",
                      "holds": abs(avg["federated"] - avg["full"]) <= CLOSE_DB})
        for peer in PEERS:
            shared = common_tasks(rows, site, "full", peer)
            if shared:
                ours, theirs = (float(np.mean([task_value(rows, site, t, m) for t in shared])) for m in ("full", peer))
                found.append({"site": site, "claim": f"PMM-Synth > {VARIANTS[peer]} (average PSNR over "
                                                     f"{len(shared)} task{'s' if len(shared) > 1 else ''})",
                              "numbers": f"{ours:.2f} vs {theirs:.2f}", "holds": ours > theirs})
        for one, many in task_pairs(site):
            a, b = task_value(rows, site, one, "full"), task_value(rows, site, many, "full")
            if a is not None and b is not None:
                found.append({"site": site, "claim": f"{many} beats {one} (full model, PSNR)",
                              "numbers": f"{b:.2f} vs {a:.2f}", "holds": b > a})
    return found


def common_tasks(rows: list[dict], site: str, first: str, second: str) -> list[str]:
    """The site's tasks both methods scored, in table order."""
    scored = {m: {r["task"] for r in rows if r["site"] == site and r["method"] == m} for m in (first, second)}
    return [t for t in dict.fromkeys(r["task"] for r in rows if r["site"] == site) if t in scored[first] & scored[second]]


def full_average(rows: list[dict], site: str, method: str, metric: str = "psnr_mean") -> float | None:
    """The site average of a method that scored every task of the site (linear LS has no
    one-to-one tasks: its mean over fewer tasks would not compare)."""
    tasks = {r["task"] for r in rows if r["site"] == site}
    covered = {r["task"] for r in rows if r["site"] == site and r["method"] == method and r.get(metric) is not None}
    return site_average(rows, site, method, metric) if covered == tasks else None


def describe_model(model: ModelOptions) -> str:
    """The options where the model differs from the paper's."""
    changed = model.model_dump(exclude_defaults=True)
    return ", ".join(f"{k} {v}" for k, v in changed.items()) if changed else "paper size"


def site_table(rows: list[dict], site: str) -> list[str]:
    methods = [m for m in VARIANTS if any(r["site"] == site and r["method"] == m for r in rows)]
    lines = [f"**{site}** (PSNR dB ± std / SSIM · L: PSNR inside the lesion, dB; test split)", "",
             "| task | " + " | ".join(VARIANTS[m] for m in methods) + " |", "|---" * (len(methods) + 1) + "|"]
    tasks = list(dict.fromkeys(r["task"] for r in rows if r["site"] == site))
    for task in tasks:
        found = {m: next((r for r in rows if r["site"] == site and r["task"] == task and r["method"] == m), None)
                 for m in methods}
        lines.append(f"| {task} | " + " | ".join(cell(found[m]) for m in methods) + " |")
    averages = [full_average(rows, site, m) for m in methods]
    lines.append("| average | " + " | ".join("–" if a is None else f"**{a:.2f}**" for a in averages) + " |")
    lesion = [full_average(rows, site, m, "psnr_lesion_mean") for m in methods]
    if any(value is not None for value in lesion):
        lines.append("| average inside the lesion | " + " | ".join("–" if a is None else f"{a:.2f}" for a in lesion) + " |")
    return lines + [""]


def figure(rows: list[dict]):
    variants = [v for v in VARIANTS if any(full_average(rows, s, v) is not None for s in SITE_NAMES)]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    grouped_bars(ax, list(SITE_NAMES),
                 {VARIANTS[v]: [full_average(rows, s, v) or 0.0 for s in SITE_NAMES] for v in variants})
    ax.set_ylabel("average test PSNR (dB)")
    low = min((full_average(rows, s, v) or 99) for s in SITE_NAMES for v in variants)
    ax.set_ylim(max(low - 3, 0), None)
    ax.legend(fontsize=7, ncol=3)
    ax.set_title("Tables 1-2 on the phantom federation: site averages")
    return fig


def run(space: Workspace, doc: Path | None, command: str) -> Path:
    space.prepare()
    rows = score_all(space, train_all(space))
    found = claims(rows)
    held = sum(c["holds"] for c in found)
    s = space.settings
    section = [f"## Tables 1 and 2: the paper's tasks on every site{space.title_suffix}", "",
               f"Phantom federation, {s.cases_per_site} cases per site (70/10/20 split), model "
               f"({describe_model(s.model)}), {s.epochs} epochs (the federation: {s.epochs} rounds of 1 local epoch), "
               f"batch {s.batch_size}, learning rate {s.learning_rate}. Test split; mean ± std over test cases.", "",
               f"Peers, trained in the same harness on the same splits: pix2pix (U-Net + 70x70 PatchGAN, L1 x100 + "
               f"LSGAN) one model per site and task, MM-GAN (one U-Net over all modalities, zero imputation, "
               f"implicit conditioning, curriculum) one model per site; U-Nets of width {s.model.base_channels}, "
               f"{s.epochs} epochs over their site's training split, the same epochs of data as each single-site "
               "model.", ""]
    for site in SITE_NAMES:
        if any(r["site"] == site for r in rows):
            section += site_table(rows, site)
        else:
            section += [f"**{site}**: no test case has the modalities of any of its tasks.", ""]
    section += [f"![site averages](results/{space.name}.png)", "", f"Claims: {held} of {len(found)} hold.", "",
                "| site | claim | ours | holds |", "|---|---|---|---|"]
    section += [f"| {c['site']} | {c['claim']} | {c['numbers']} | {'yes' if c['holds'] else 'no'} |" for c in found]
    metrics = {f"{site}/{v}/avg_psnr": a for site in SITE_NAMES for v in VARIANTS
               if (a := site_average(rows, site, v)) is not None} | {"claims_held": float(held),
                                                                     "claims": float(len(found))}
    path = publish(space, "\n".join(section), {"rows": rows, "claims": found}, metrics,
                   {f"{space.name}.png": figure(rows)}, doc, command)
    space.echo("\n".join(section))
    return path
