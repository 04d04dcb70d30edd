"""What `pmm train-central` does around the trainer: the MLflow run, resume, the final artifacts.

The API is typed: training options, prepared site folders, run and tracking settings. Text
(site names, TOML files, flags) is turned into them by the CLI (`pmm/train_command.py`), so a
program calling pmm passes options as they are instead of serialising them.
"""
from __future__ import annotations

import contextlib

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pmm.centralized.distributed import init_distributed
from pmm.centralized.fine_tune import StartingPoint
from pmm.inference.model_loading import checkpoint_sites
from pmm.inference.publish import publish_package
from pmm.centralized.trainer import CentralTrainer, RunSettings, TrainOutcome
from pmm_core.config.training import TrainingOptions, saved_options
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.errors import PmmError
from pmm_core.training.checkpoint import load_checkpoint
from pmm.tracking import RunTracker, TrackingSettings, flatten


@dataclass
class ResumePoint:
    """A checkpoint to continue from, with its options (epochs may be raised) and its sites."""

    path: Path
    checkpoint: dict[str, Any]
    options: TrainingOptions
    site_dirs: list[Path]

    @classmethod
    def load(cls, path: Path, epochs: int | None = None) -> "ResumePoint":
        # a model without its training state (a federated site's model.pt, an exported model) is
        # refused by name rather than failing in the middle of restoring it
        checkpoint = load_checkpoint(Path(path), required=("model", "config", "optimizer_generator", "global_step",
                                                           "rng"),
                                     kind="training checkpoint (a run's last.pt or best.pt)")
        config = checkpoint["config"] | ({"epochs": epochs} if epochs is not None else {})
        if epochs is not None and config.get("decay_start_epoch") is None:
            # the decay started where the run first put it: a quarter of the new epochs would send
            # a run already decaying back to the full rate
            config["decay_start_epoch"] = min(saved_options(checkpoint["config"], str(path)).decay_start, epochs)
        options = saved_options(config, f"{path} with --epochs {epochs}" if epochs is not None else str(path))
        records = checkpoint_sites(checkpoint, Path(path))
        for record in records:  # a site prepared again in another scale would switch the data mid-run
            now = load_fingerprint(Path(record.site_dir)).intensity
            if now != record.intensity:
                raise PmmError(f"{path}: site {record.name}'s intensity standardization changed since the run "
                               f"started ({record.intensity.scheme} then, {now.scheme} now, in "
                               f"{record.site_dir}); prepare it as before or start a new run")
        return cls(Path(path), checkpoint, options, [Path(r.site_dir) for r in records])


def run_central(options: TrainingOptions, site_dirs: list[Path], settings: RunSettings,
                tracking: TrackingSettings | None = None, resume: ResumePoint | None = None,
                echo: Callable[[str], None] = print, init: StartingPoint | None = None) -> TrainOutcome:
    """Train (or continue, with `resume`) one model on the prepared `site_dirs`, recorded in MLflow;
    with `init`, starting from an exported package (fine-tuning; `options` already carry its
    architecture, `StartingPoint.applied_to`)."""
    if init is not None and resume is not None:
        raise PmmError("--init starts a new run from a package; --resume continues a run: give one of them")
    tracking = tracking or TrackingSettings()
    site_dirs = [Path(d) for d in site_dirs]
    checkpoint = resume.checkpoint if resume is not None else None
    dist = init_distributed()
    try:
        trained_with = checkpoint.get("world_size", 1) if checkpoint is not None else dist.world_size
        if trained_with != dist.world_size:  # its batches and per-process RNG streams are split that many ways
            raise PmmError(f"{resume.path}: this run trained with {trained_with} process(es) and is resumed with "
                           f"{dist.world_size}; resume it with the same number (torchrun --nproc_per_node "
                           f"{trained_with}), or start a new run")
        tracker = None
        if dist.is_main:
            names = ",".join(d.name for d in site_dirs)
            tracker = RunTracker(tracking.experiment, run_name=tracking.run_name or settings.run_dir.name,
                                 tracking_uri=tracking.tracking_uri,
                                 run_id=checkpoint.get("mlflow_run_id") if checkpoint else None,
                                 tags={"pmm.mode": "centralized", "pmm.sites": names, "pmm.method": options.method,
                                       "pmm.pfm": str(options.model.pfm),
                                       "pmm.mcbs": str(options.mcbs)} | tracking.tags)
            if checkpoint is None:
                tracker.log_params(flatten(options.model_dump(mode="json")) | {"sites": names}
                                   | ({f"init.{k}": v for k, v in init.origin.items()} if init else {}))
                for site_dir in site_dirs:
                    tracker.log_artifact(site_dir / "fingerprint.json", f"fingerprints/{site_dir.name}")
        # the run ends FAILED (error, with its line) or KILLED (Ctrl-C, SIGTERM) when training does not finish
        with tracker if tracker is not None else contextlib.nullcontext():
            trainer = CentralTrainer(options, site_dirs, settings, dist, tracker)
            if checkpoint is not None:
                trainer.restore(checkpoint)
                echo(f"resumed at epoch {trainer.epoch + 1}, step {trainer.global_step}")
            elif init is not None:
                trainer.start_from(init)
                echo(f"starting from {init.origin['name']} (SHA-256 {init.origin['sha256'][:16]}...)")
            outcome = trainer.train()
            if tracker is not None:
                finish_run(tracker, trainer, outcome.stopped_early, tracking.registered_model, echo)
                where = "stopped at" if outcome.stopped_early else "finished after"
                best = f"best val PSNR {outcome.best_score:.2f} dB" if outcome.best_score > float("-inf") else \
                    ("no val case could be scored (the val split is empty or none of its cases has a task's "
                     "modalities), so best.pt is the last epoch's model; add cases and run `pmm prepare` again")
                echo(f"{where} step {outcome.global_step}; checkpoints in {settings.run_dir}; {best}")
                echo(f"MLflow run {tracker.run_id} in {tracker.uri}; open the UI with: pmm ui")
        return outcome
    finally:
        dist.close()


def finish_run(tracker: RunTracker, trainer: CentralTrainer, stopped_early: bool, register: str | None = None,
               echo: Callable[[str], None] = print) -> None:
    """Checkpoints and the exported package as artifacts (the package registered as `register`);
    an early stop leaves the run open for --resume."""
    if stopped_early:
        tracker.set_tags({"pmm.stopped_at_step": str(trainer.global_step)})
        tracker.finish("KILLED")
        return
    for name in ("last", "best"):
        path = trainer.settings.run_dir / f"{name}.pt"
        if path.is_file():
            tracker.log_artifact(path, "checkpoints")
    run_dir = trainer.settings.run_dir
    publish_package(tracker, run_dir / "best.pt", run_dir / f"{register or run_dir.name}.pmm", register, echo)
    tracker.finish()
