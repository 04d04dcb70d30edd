"""`pmm demo`: the whole path on the embedded phantom federation, sized for a 2-core CPU.

phantom (four sites, native layouts) → `pmm prepare` for each → a short centralized training
(a small model: width 16, 64x64 crops) → `pmm evaluate` of every site on its paper tasks next to
the linear baselines (fitted on the training split) → one table, the MLflow run id and the command that opens the UI.
The short run uses a higher learning rate (1e-3) than the paper's 2e-4 so that minutes of CPU
training get somewhere; everything else is the paper's recipe.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from pmm.inference.evaluate_run import run_evaluation
from pmm.inference.export import export_checkpoint
from pmm.centralized.run_central import run_central
from pmm.centralized.trainer import RunSettings
from pmm_core.config.model import ModelOptions
from pmm_core.config.toml_loading import toml_text
from pmm_core.config.training import TrainingOptions
from pmm_core.data.site_caches import site_cache_dirs
from pmm_core.errors import PmmError
from pmm_core.evaluation.report import BASELINES, format_table
from pmm_core.phantom.prepared import SITE_FILES, build_phantom_federation, mark_ready, phantom_ready
from pmm.tracking import TrackingSettings

DEMO_MODEL = ModelOptions(base_channels=16, residual_blocks=3, embedding_dim=64, modulation_hidden=32,
                          discriminator_channels=16, discriminator_layers=3)


def demo_training_options(epochs: int) -> TrainingOptions:
    """A short CPU run of the paper's recipe on a small model (and a higher learning rate)."""
    return TrainingOptions(epochs=epochs, batch_size=4, learning_rate=1e-3, num_workers=0, model=DEMO_MODEL)


def beats_baselines(rows: list[dict]) -> tuple[int, int]:
    """(tasks where pmm's PSNR beats every linear baseline of that task, tasks), in the model's own
    intensity scale; the oracle ceiling reads the test truth, so it is shown but not counted."""
    tasks: dict[tuple[str, str], dict[str, float]] = {}
    for row in rows:
        if row["protocol"] == "model":
            tasks.setdefault((row["site"], row["task"]), {})[row["method"]] = row["psnr_mean"]
    wins = sum(1 for methods in tasks.values()
               if "pmm" in methods and all(methods["pmm"] > v for m, v in methods.items() if m in BASELINES))
    return wins, len(tasks)


def run_demo(out: Path, cases_per_site: int, epochs: int, seed: int, tracking_uri: str | None,
             progress: bool = True, echo: Callable[[str], None] = print) -> list[dict]:
    started = time.perf_counter()
    out = Path(out)
    if phantom_ready(out, cases_per_site, seed):  # a second `make demo` does not redo minutes of work
        echo(f"1-2/4 reusing the prepared phantom federation in {out} ({cases_per_site} cases per site, seed {seed})")
        cache = out / "cache"
    else:
        echo(f"1-2/4 phantom federation -> {out}, preprocessing the four sites")
        cache = build_phantom_federation(out, cases_per_site, seed, echo)
        mark_ready(out, cases_per_site, seed)
    options = demo_training_options(epochs)
    config = out / "demo_training.toml"  # what ran, for a reader to copy into `pmm train-central --config`
    config.write_text(toml_text(options, "pmm demo: a short CPU run of the paper's recipe on a small model"))
    echo(f"3/4 centralized training, {epochs} epochs ({config})")
    site_dirs = site_cache_dirs([out / "sites" / f"{name}.toml" for name in SITE_FILES], cache)
    tracking = TrackingSettings(experiment="pmm-demo", tracking_uri=tracking_uri)
    run_central(options, site_dirs, RunSettings(run_dir=out / "run", checkpoint_every=0, progress=progress), tracking,
                echo=echo)
    echo("4/4 evaluation on every site's test split")
    rows: list[dict] = []
    for site_dir in site_dirs:
        try:
            rows += run_evaluation(out / "run" / "best.pt", site_dir, None, "test", out / "evaluation", tracking,
                                   echo=lambda _: None)
        except PmmError as exc:  # e.g. TTI's few test cases may lack every task's modalities
            echo(f"    note: {exc}")
    echo(format_table(rows))
    wins, total = beats_baselines(rows)
    echo(f"pmm beats every linear baseline on {wins} of {total} tasks (PSNR); demo took {time.perf_counter() - started:.0f} s")
    exported = export_checkpoint(out / "run" / "best.pt", out / "demo.pmm", out / "evaluation")
    echo(f"tables: {out / 'evaluation'}; open the MLflow UI with: pmm ui" +
         (f" --tracking-uri {tracking_uri}" if tracking_uri else ""))
    echo(f"model package (weights, card, tables) for another machine: {exported.path}; its card: "
         f"unzip -p {exported.path} MODEL_CARD.md")
    return rows
