"""What `pmm evaluate`'s row sets cost at native size: the model's scale alone against all three.

Writes full-size phantom sites with lesion labels (BraTS: 155 slices of 240x240 cropped to
192x192; ISLES), prepares them with `prepare_site`, and times `evaluate_site` on the same test
cases side by side: protocols `model` only, then `model,common,brasyn`, each with the linear
baselines. The model is a small untrained one: what differs between the two runs is the scoring,
and the 3D SSIMs of the BraSyn rows dominate it.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from bench.common import write_results
from pmm_core.config.model import ModelOptions
from pmm_core.config.site import load_site
from pmm_core.data.prepare_site import prepare_site
from pmm_core.evaluation.evaluate import evaluate_site
from pmm_core.evaluation.protocols import PROTOCOLS
from pmm_core.tasks import default_tasks
from pmm_core.models import build_model
from pmm_core.phantom.federation import write_federation

SITES = ("BraTS", "ISLES")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("full", "test"), default="full", help="phantom size (default: native)")
    parser.add_argument("--cases", type=int, default=3, help="cases per site (the split gives the test one)")
    parser.add_argument("--sites", nargs="+", default=list(SITES), choices=SITES, help="phantom sites (with labels)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = build_model(ModelOptions(base_channels=8, residual_blocks=1, embedding_dim=16, modulation_hidden=16,
                                     encoding_dim=16, discriminator_channels=8, discriminator_layers=2)).eval()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_federation(root, cases_per_site=args.cases, size=args.size, progress=False, sites=tuple(args.sites))
        print(f"evaluate_protocols: {args.size}-size phantom, {args.cases} cases per site; "
              f"model only against {', '.join(PROTOCOLS)}")
        for name in args.sites:
            site = load_site(root / "sites" / f"{name.lower()}.toml")
            site_dir = prepare_site(site, root / "cache", workers=1, progress=False, log=print).site_dir
            tasks = default_tasks(site.name, site.modalities)
            seconds = {}
            for label, protocols in (("model", ("model",)), ("all", PROTOCOLS)):
                started = time.perf_counter()
                result = evaluate_site(model, site_dir, tasks, "test", "cpu", 16, protocols=protocols)
                seconds[label] = round(time.perf_counter() - started, 2)
            scored = sum(len(rows_) for rows_ in result.per_case["model"][tasks[0].name].values())
            rows.append({"site": name, "tasks": len(tasks), "scored_per_task": scored,
                         "model_only_s": seconds["model"], "all_protocols_s": seconds["all"],
                         "ratio": round(seconds["all"] / seconds["model"], 2)})
            print(f"  {name}: model only {seconds['model']} s, all protocols {seconds['all']} s "
                  f"({rows[-1]['ratio']}x) for {len(tasks)} tasks")
    table = ["| site | tasks | model only (s) | model, common, brasyn (s) | ratio |", "|---|---|---|---|---|"]
    table += [f"| {r['site']} | {r['tasks']} | {r['model_only_s']} | {r['all_protocols_s']} | {r['ratio']}x |"
              for r in rows]
    write_results("evaluate_protocols", {"config": vars(args), "rows": rows}, table)


if __name__ == "__main__":
    main()
