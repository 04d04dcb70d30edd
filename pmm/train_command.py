"""`pmm train-central --sites S1,S2,…`: the paper's centralized trainer."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.errors import reports_errors
from pmm.paper_recipe_help import paper_recipe_help
from pmm_core.errors import PmmError


@reports_errors
def train_central(
    sites: str = typer.Option(None, "--sites", help="Comma-separated site names or TOML paths (prepared with `pmm prepare`)."),
    method: str = typer.Option(None, "--method", help="pmm-synth (default: the paper's model), or a comparison method: pix2pix (one task, --task) or mmgan (MM-GAN: every missing modality from the rest)."),
    task: str = typer.Option(None, "--task", help="pix2pix's task, e.g. 'T1->T1C' or 'T1,T2->FLAIR' (one model per task)."),
    epochs: int = typer.Option(None, "--epochs", min=1, help="Epochs (default 200, the paper's; the rate falls to 0 at the last one)."),
    batch_size: int = typer.Option(None, "--batch-size", min=1, help="Batch size (default 16, the paper's)."),
    no_pfm: bool = typer.Option(False, "--no-pfm", help="Ablation: no Personalized Feature Modulation."),
    no_mcbs: bool = typer.Option(False, "--no-mcbs", help="Ablation: the naive batch-1 sampler instead of MCBS."),
    paper_recipe: bool = typer.Option(False, "--paper-recipe", help=paper_recipe_help()),
    resume: str = typer.Option(None, "--resume", help="Continue a run: its folder, its name under runs/, or a checkpoint file."),
    init: str = typer.Option(None, "--init", help="Fine-tune: start from an exported package (NAME.pmm, or models:/NAME/VERSION) instead of random weights; its architecture is kept, a site it never saw gets its own dataset embedding, and the run records where it started."),
    register: str = typer.Option(None, "--register", help="Register the finished run's package (RUN_DIR/NAME.pmm, with its model card) in the MLflow Model Registry as a new version of NAME; load it later as models:/NAME/VERSION or models:/NAME@ALIAS."),
    config: Path = typer.Option(None, "--config", help=r"Training options TOML: method, epochs, decay_start_epoch, learning_rate, batch_size, … and the \[model], \[losses], \[conditions], \[pix2pix], \[mmgan] tables."),
    cache_root: Path = typer.Option(None, "--cache-dir", help="Cache root (default: $PMM_CACHE_DIR, else ./pmm_cache)."),
    run_dir: Path = typer.Option(None, "--run-dir", help="Where checkpoints go (default: runs/<time>-<sites>)."),
    max_steps: int = typer.Option(None, "--max-steps", min=1, help="Stop after this many steps in total, with a checkpoint."),
    checkpoint_every: int = typer.Option(100, "--checkpoint-every", min=0, help="Steps between mid-epoch `last` checkpoints."),
    experiment: str = typer.Option("pmm", "--experiment", help="MLflow experiment name."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlflow.db)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train one PMM-Synth model (or a comparison method: --method pix2pix | mmgan) on several sites with the paper's schedule: 200 epochs, Adam 2e-4 (betas 0.5/0.999) constant for 50 epochs then linearly to 0, batch 16 with MCBS. Beyond the paper, by default, slices with a lesion are drawn more often inside each MCBS group, the L1 inside a lesion label counts more and training slices are mirrored at random, which is what makes the synthesized lesion (the enhancing rim, the oedema, the infarct) appear; --paper-recipe turns all three off (its help gives the numbers).

    The decay starts after a quarter of the epochs unless the config sets decay_start_epoch, so `--epochs 20` keeps the paper's shape (5 constant, 15 decaying).

    Uses CUDA when present, and bfloat16 autocast where the GPU or the CPU computes it natively (`precision` in --config; float32 elsewhere); several GPUs with `torchrun --nproc_per_node N -m pmm train-central …`. Validates every epoch on the val split and keeps `last.pt` and `best.pt`.
    """
    from pmm.text_inputs import site_names
    from pmm_core.config.methods import METHOD_NAMES
    from pmm_core.config.training import options_with_overrides
    from pmm_core.data.cache import default_cache_root
    from pmm_core.data.site_caches import site_cache_dirs
    from pmm_core.tasks import parse_task
    from pmm.tracking.settings import TrackingSettings

    point = start = None
    if resume and (method or task):
        raise PmmError("--resume continues a run with its own method; drop --method and --task")
    if resume and init:
        raise PmmError("--init starts a new run from a package; --resume continues a run: give one of them")
    if resume:
        from pmm.centralized.run_central import ResumePoint
        from pmm.centralized.runs import resolve_checkpoint

        point = ResumePoint.load(resolve_checkpoint(resume), epochs)
        options, site_dirs, run_dir = point.options, point.site_dirs, run_dir or point.path.parent
    else:
        if not sites:
            raise PmmError("--sites is required (or --resume a run)")
        if method is not None and method not in METHOD_NAMES:
            raise PmmError(f"--method {method!r}: use one of {', '.join(METHOD_NAMES)}")
        parsed = parse_task(task) if task else None
        options = options_with_overrides(config, epochs, batch_size, no_pfm, no_mcbs, method,
                                         (parsed.sources, parsed.target) if parsed else None, paper_recipe)
        if init:
            from pmm.centralized.fine_tune import StartingPoint

            start = StartingPoint.load(init, tracking_uri)
            options = start.applied_to(options, method)
        site_dirs = site_cache_dirs(site_names(sites), cache_root or default_cache_root())  # before torch loads
        from pmm.centralized.runs import default_run_dir

        run_dir = run_dir or default_run_dir(site_dirs)
    from pmm.centralized.run_central import run_central  # torch, MLflow: once the arguments are good
    from pmm.centralized.trainer import RunSettings

    settings = RunSettings(run_dir=run_dir, max_steps=max_steps, checkpoint_every=checkpoint_every, progress=not quiet)
    run_central(options, site_dirs, settings,
                TrackingSettings(experiment=experiment, tracking_uri=tracking_uri, registered_model=register),
                resume=point, echo=typer.echo, init=start)
