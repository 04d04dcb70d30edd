"""What `pmm train-central` does around the trainer: options, sites, resume, MLflow run."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from centralized.distributed import init_distributed
from centralized.runs import new_run_dir, resolve_checkpoint
from centralized.trainer import CentralTrainer, RunSettings
from pmm_core.config.training import TrainingOptions, options_with_overrides
from pmm_core.data.cache import default_cache_root
from pmm_core.data.site_caches import site_cache_dirs
from pmm_core.errors import PmmError
from pmm_core.training.checkpoint import load_checkpoint
from tracking import RunTracker, flatten


def run_central(sites: str | None, epochs, batch_size, no_pfm: bool, no_mcbs: bool, resume: str | None,
                config: Path | None, cache_dir: Path | None, run_dir: Path | None, max_steps: int | None,
                checkpoint_every: int, experiment: str, tracking_uri: str | None, progress: bool,
                echo: Callable[[str], None] = print, run_name: str | None = None,
                tags: dict[str, str] | None = None) -> None:
    """`run_name` (default: the run folder's name) and `tags` label the MLflow run, e.g. an
    experiment's `tables/full`, so runs of different experiments stay apart in the UI."""
    checkpoint = None
    if resume:
        checkpoint_path = resolve_checkpoint(resume)
        checkpoint = load_checkpoint(checkpoint_path)
        options = TrainingOptions.model_validate(checkpoint["config"])
        if epochs is not None:
            options.epochs = epochs
        site_dirs = [Path(s["cache_dir"]) for s in checkpoint["sites"]]
        run_dir = run_dir or checkpoint_path.parent
    else:
        if not sites:
            raise PmmError("--sites is required (or --resume a run)")
        options = options_with_overrides(config, epochs, batch_size, no_pfm, no_mcbs)
        site_dirs = site_cache_dirs(sites, cache_dir or default_cache_root())
        run_dir = run_dir or new_run_dir([d.name for d in site_dirs])

    dist = init_distributed()
    try:
        tracker = None
        if dist.is_main:
            names = ",".join(d.name for d in site_dirs)
            tracker = RunTracker(experiment, run_name=run_name or Path(run_dir).name, tracking_uri=tracking_uri,
                                 run_id=checkpoint.get("mlflow_run_id") if checkpoint else None,
                                 tags={"pmm.mode": "centralized", "pmm.sites": names,
                                       "pmm.pfm": str(options.model.pfm), "pmm.mcbs": str(options.mcbs)} | (tags or {}))
            if checkpoint is None:
                tracker.log_params(flatten(options.model_dump(mode="json")) | {"sites": names})
                for site_dir in site_dirs:
                    tracker.log_artifact(site_dir / "fingerprint.json", f"fingerprints/{site_dir.name}")
        settings = RunSettings(run_dir=Path(run_dir), max_steps=max_steps, checkpoint_every=checkpoint_every,
                               progress=progress)
        trainer = CentralTrainer(options, site_dirs, settings, dist, tracker)
        if checkpoint is not None:
            trainer.restore(checkpoint)
            echo(f"resumed at epoch {trainer.epoch + 1}, step {trainer.global_step}")
        outcome = trainer.train()
        if tracker is not None:
            finish_run(tracker, trainer, outcome.stopped_early)
            where = "stopped at" if outcome.stopped_early else "finished after"
            echo(f"{where} step {outcome.global_step}; checkpoints in {run_dir}; best val PSNR {outcome.best_score:.2f} dB")
            echo(f"MLflow run {tracker.run_id} in {tracker.uri}; open the UI with: pmm ui")
    finally:
        dist.close()


def finish_run(tracker: RunTracker, trainer: CentralTrainer, stopped_early: bool) -> None:
    """Checkpoints and the model as artifacts; an early stop leaves the run open for --resume."""
    if stopped_early:
        tracker.set_tags({"pmm.stopped_at_step": str(trainer.global_step)})
        tracker.finish("KILLED")
        return
    for name in ("last", "best"):
        path = trainer.settings.run_dir / f"{name}.pt"
        if path.is_file():
            tracker.log_artifact(path, "checkpoints")
    tracker.log_model(trainer.model.cpu())
    tracker.finish()
