"""Training that reaches the pathology: the options beyond the paper, alone and together, against
the paper's recipe.

Every variant is the full model (PFM + MCBS) on the four phantom sites with the experiment's
settings, the same epochs (the options do not change what a step costs: the times are in the
section), scored on the test split in the truth's own percentile window (`common`: the headroom
variant trains in another scale, so the model's own scale would not compare) and in the BraSyn
protocol, beside the source-matched and multi-source linear maps fitted on the training split.

- `paper`: the paper's recipe (MCBS permutes every slice once per epoch; plain L1; the learned bound);
- `oversampling`: `[pathology] oversampling` (slices with pathology drawn that many times as often);
- `lesion-weight`: `[pathology] lesion_weight` (L1 inside the lesion label counts 1 + w times);
- `headroom`: the sites' `[preprocess] intensity_headroom` (the learned bound raised by that fraction);
- `all`: the three together;
- `sampling-weight`: oversampling and the lesion weight, without headroom;
- `balanced`: those two with the weight spread equally over the label's compartments
  (`[pathology] lesion_compartments = "balanced"`: the enhancing rim as much as the oedema);
- `mirrored`: oversampling and the lesion weight with every training slice mirrored at random
  (`[pathology] mirroring`: each tumour seen in four placements);
- `default`: pmm's default `[pathology]` as it stands (`PathologyOptions()`: oversampling 4,
  lesion weight 20, mirroring), whatever the `[extra]` weights;
- `default-balanced`: the default with its lesion weight spread equally over the compartments;
- `default-transposed`: the default with `[pathology] transposing` (each batch's in-plane axes
  swapped at random: with mirroring, a tumour in eight placements, not four).
`[extra] variants` runs a subset (the test runs `paper` and `all`). Beside them, pix2pix (its own
paper's recipe, one model per labelled site and lesion task, the runs `pmm experiment tables` trains
under the same labels) in the tables and the montages; `[extra] pix2pix = false` leaves it out.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from pmm.experiments.cache_variants import variant_cache
from pmm.experiments.report import grouped_bars, publish
from pmm.experiments.scoring import evaluation, task_value, variant_rows
from pmm.experiments.tables import describe_model
from pmm.experiments.variants import train_central, train_pix2pix
from pmm.experiments.workspace import SITE_NAMES, Workspace
from pmm_core.config.model import PathologyOptions
from pmm_core.evaluation.montage import montage_figure
from pmm_core.tasks import parse_task

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

VARIANTS = ("paper", "oversampling", "lesion-weight", "headroom", "all", "sampling-weight", "balanced", "mirrored", "default",
            "default-balanced", "default-transposed")
PARTS = {"paper": set(), "oversampling": {"sampling"}, "lesion-weight": {"weight"}, "headroom": {"headroom"},
         "all": {"sampling", "weight", "headroom"}, "sampling-weight": {"sampling", "weight"},
         "balanced": {"sampling", "weight", "balanced"}, "mirrored": {"sampling", "weight", "mirroring"}}
FROM_DEFAULT = {"default": {}, "default-balanced": {"lesion_compartments": "balanced"},
                "default-transposed": {"transposing": True}}  # PathologyOptions() with these fields changed
PEER = "pix2pix"
LESION_TARGETS = ("T1C", "FLAIR", "DWI")  # the sequences acquired for their lesion
DEFAULTS = {"oversampling": 4.0, "lesion_weight": 5.0, "headroom": 0.5}


def variant_setup(space: Workspace, variant: str) -> tuple[PathologyOptions, str]:
    """(the variant's pathology options, the phantom cache it reads)."""
    if variant in FROM_DEFAULT:
        return PathologyOptions(**FROM_DEFAULT[variant]), "cache"
    extra, parts = DEFAULTS | space.settings.extra, PARTS[variant]
    options = PathologyOptions(oversampling=extra["oversampling"] if "sampling" in parts else 1.0,
                               lesion_weight=extra["lesion_weight"] if "weight" in parts else 0.0,
                               lesion_compartments="balanced" if "balanced" in parts else "pooled",
                               mirroring="mirroring" in parts)
    data = variant_cache(space, f"headroom-{extra['headroom']}", {"intensity_headroom": extra["headroom"]}) \
        if "headroom" in parts else "cache"
    return options, data


def fitted(task: str) -> str:
    return "linear" if len(parse_task(task).sources) > 1 else "match"


def lesion_tasks(rows: list[dict], site: str) -> list[str]:
    return [t for t in dict.fromkeys(r["task"] for r in rows if r["site"] == site)
            if parse_task(t).target in LESION_TARGETS]


def _value(rows, protocol, variant, site, task, method, metric="psnr_mean"):
    chosen = [r for r in rows if r["protocol"] == protocol and r["variant"] == variant]
    return task_value(chosen, site, task, method, metric)


def brasyn_average(rows: list[dict], site: str, variant: str, method: str = "pmm") -> float | None:
    """The site's mean BraSyn PSNR over its tasks (a linear map: its own fit per task)."""
    tasks = list(dict.fromkeys(r["task"] for r in rows if r["site"] == site))
    values = [_value(rows, "brasyn", variant, site, t, fitted(t) if method == "linear" else method) for t in tasks]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _db(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def site_lines(rows: list[dict], site: str, variants: list[str]) -> list[str]:
    """One site's lesion table: a column per variant (pix2pix, where trained, among them; its
    BraSyn cell is "–" since it has only the lesion tasks, not the site's), and the linear map
    fitted in the paper variant's scale, or the first variant's where the paper's was not run."""
    tasks = lesion_tasks(rows, site)
    if not tasks:
        return []
    scale = "paper" if "paper" in variants else variants[0]
    lines = [f"**{site}**: inside the lesion, common window: PSNR dB (contrast ratio, 1 is right)", "",
             "| task | " + " | ".join(variants) + f" | linear map ({scale}'s scale) |", "|---" * (len(variants) + 2) + "|"]
    for task in tasks:
        cells = [f"{_db(_value(rows, 'common', v, site, task, 'pmm', 'psnr_lesion_mean'))} "
                 f"({_db(_value(rows, 'common', v, site, task, 'pmm', 'contrast_mean'))})" for v in variants]
        method = fitted(task)
        cells.append(f"{_db(_value(rows, 'common', scale, site, task, method, 'psnr_lesion_mean'))} "
                     f"({_db(_value(rows, 'common', scale, site, task, method, 'contrast_mean'))})")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines.append("| BraSyn PSNR, site average | " + " | ".join(
                 _db(brasyn_average(rows, site, v)) if v != PEER else "–" for v in variants)
                 + f" | {_db(brasyn_average(rows, site, scale, 'linear'))} |")
    return lines + [""]


def lesion_wins(rows: list[dict], variant: str) -> tuple[int, int]:
    """(tasks where pmm's lesion PSNR beats the training-split linear map, lesion tasks scored)."""
    won = total = 0
    for site in SITE_NAMES:
        for task in lesion_tasks(rows, site):
            ours = _value(rows, "common", variant, site, task, "pmm", "psnr_lesion_mean")
            theirs = _value(rows, "common", "paper" if variant == PEER else variant, site, task, fitted(task),
                            "psnr_lesion_mean")
            if ours is not None and theirs is not None:
                total += 1
                won += ours > theirs
    return won, total


def mean_lesion_psnr(rows: list[dict], variant: str) -> float | None:
    values = [_value(rows, "common", variant, s, t, "pmm", "psnr_lesion_mean") for s in SITE_NAMES
              for t in lesion_tasks(rows, s)]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def figure(rows: list[dict], variants: list[str]):
    fig, ax = plt.subplots(figsize=(8, 3.3))
    grouped_bars(ax, list(SITE_NAMES), {v: [np.mean([x for t in lesion_tasks(rows, s) if (x := _value(
        rows, "common", v, s, t, "pmm", "psnr_lesion_mean")) is not None] or [0.0]) for s in SITE_NAMES] for v in variants})
    ax.set_ylabel("test PSNR inside the lesion (dB)")
    ax.legend(fontsize=7, ncol=3)
    ax.set_title("T1C, FLAIR and DWI tasks: PSNR inside the lesion per training variant")
    return fig


def lesion_peers(space: Workspace, rows: list[dict]) -> dict[str, list[Path]]:
    """site -> pix2pix checkpoints, one per lesion task of a site whose paper rows score a lesion
    (a site without labels has nothing to compare there); each trained on the site alone, with
    the label `pmm experiment tables` gives it, so the two experiments share the runs."""
    models: dict[str, list[Path]] = {}
    extra = space.settings.extra
    for site in [s for s in SITE_NAMES if s in extra.get("peer_sites", SITE_NAMES)]:  # as `tables` limits them
        scored = [t for t in lesion_tasks(rows, site)
                  if _value(rows, "common", "paper", site, t, "pmm", "psnr_lesion_mean") is not None]
        scored = scored[:extra.get("peer_tasks")]
        for task in map(parse_task, scored):
            if (checkpoint := train_pix2pix(space, site, task)) is not None:
                models.setdefault(site, []).append(checkpoint)
    return models


def score_variant(space: Workspace, variant: str, models: list[tuple[str, Path]], data: str,
                  rows: list[dict], examples: dict[str, dict[str, list]]) -> None:
    """Adds the test rows (common window and BraSyn) and lesion montage slices of one variant's
    models, given as (site, checkpoint): the linear maps come with every variant but pix2pix."""
    with space.timed(f"evaluation-{variant}"):
        for site, checkpoint in models:
            result = evaluation(checkpoint, space.phantom / data / site, baselines=variant != PEER,
                                protocols=("common", "brasyn"))
            rows += [r | {"variant": variant} for r in variant_rows(result, "pmm")]
            examples.setdefault(site, {}).setdefault(variant, []).extend(
                e for e in result.examples if parse_task(e.task).target in LESION_TARGETS)


def run(space: Workspace, doc: Path | None, command: str) -> Path:
    space.prepare()
    variants = [v for v in VARIANTS if v in space.settings.extra.get("variants", VARIANTS)]
    rows: list[dict] = []
    examples: dict[str, dict[str, list]] = {}  # site → variant → montage slices (the largest lesion)
    for variant in variants:
        pathology, data = variant_setup(space, variant)
        label = "full" if variant == "paper" else f"pathology-{variant}"
        options = space.settings.training_options(pathology=pathology)
        checkpoint = train_central(space, label, list(SITE_NAMES), data=data, options=options)
        score_variant(space, variant, [(site, checkpoint) for site in SITE_NAMES], data, rows, examples)
    if "paper" in variants and space.settings.extra.get("pix2pix", True):
        peers = [(site, checkpoint) for site, checkpoints in lesion_peers(space, rows).items() for checkpoint in checkpoints]
        score_variant(space, PEER, peers, "cache", rows, examples)
        variants.append(PEER)
    s, extra = space.settings, DEFAULTS | space.settings.extra
    means = {v: mean_lesion_psnr(rows, v) for v in variants}
    wins = {v: lesion_wins(rows, v) for v in variants}
    best = max((v for v in variants if means[v] is not None), key=lambda v: means[v], default=None)
    section = [f"## Reaching the pathology: options beyond the paper{space.title_suffix}", "",
               f"The full model on the four phantom sites ({s.cases_per_site} cases each), {s.epochs} epochs, model "
               f"({describe_model(s.model)}), once per variant: oversampling {extra['oversampling']}, lesion weight "
               f"{extra['lesion_weight']}, headroom {extra['headroom']}. Test split; T1C, FLAIR and DWI tasks; the "
               "linear map is fitted on the training split (source-matched for one source, least squares for "
               "several) in each variant's own scale, which its wins below count against; the site tables show the "
               "fit in the paper variant's scale, or the first variant's where the paper's was not run.", ""]
    for site in SITE_NAMES:
        section += site_lines(rows, site, variants)
    section += ["| variant | mean lesion PSNR (dB) | tasks where the lesion beats the linear map |", "|---|---|---|"]
    section += [f"| {v} | {_db(means[v])} | {wins[v][0]} of {wins[v][1]} |" for v in variants]
    montages = {f"{space.name}-{site}.png": montage_figure(site, found[variants[0]], variants[0],
                                                           {v: found[v] for v in variants[1:] if v in found})
                for site, found in examples.items() if found.get(variants[0])}
    section += ["", f"Highest mean lesion PSNR: **{best}**." if best else "", "",
                f"![pathology](results/{space.name}.png)", "",
                "Each site's test slice with the largest lesion per task, outlined in red; each model in its own "
                f"scale (a headroom variant looks dimmer); |error| of {variants[0]}:", ""]
    section += [f"![{name}](results/{name})" for name in montages]
    metrics = {f"{v}/mean_lesion_psnr": m for v, m in means.items() if m is not None}
    path = publish(space, "\n".join(section), {"rows": rows, "means": means, "wins": wins, "best": best}, metrics,
                   {f"{space.name}.png": figure(rows, variants)} | montages, doc, command)
    space.echo("\n".join(section))
    return path
