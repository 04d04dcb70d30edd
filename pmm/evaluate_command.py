"""`pmm evaluate --checkpoint C --site S`: PSNR/SSIM table in the paper's format, with baselines."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.errors import reports_errors


@reports_errors
def evaluate(
    checkpoint: str = typer.Option(..., "--checkpoint", help="The model: a checkpoint written by train-central (last.pt or best.pt), a federated site's model.pt, an exported package (NAME.pmm) or a registered one (models:/NAME/VERSION, models:/NAME@ALIAS; looked up in --tracking-uri)."),
    site: str = typer.Option(..., "--site", help="Site name or TOML path (prepared)."),
    task: list[str] = typer.Option(None, "--task", help="A task like 'T1,T2->FLAIR'; repeat for several (default: the paper's tasks for the site)."),
    split: str = typer.Option("test", "--split", help="train, val or test."),
    cache_root: Path = typer.Option(None, "--cache-dir", help="Cache root (default: $PMM_CACHE_DIR, else ./pmm_cache)."),
    out: Path = typer.Option(None, "--out", help="Folder for the CSV and JSON tables (default: beside the checkpoint)."),
    experiment: str = typer.Option("pmm", "--experiment", help="MLflow experiment name."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlflow.db)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Slices synthesised at once."),
    peer: list[str] = typer.Option(None, "--peer", help="Another model to score beside it on the same slices, e.g. a pix2pix run's best.pt (same forms as --checkpoint; repeat for several): its own table, and a column of the montage logged to MLflow (the slice with the largest lesion per task)."),
    protocols: str = typer.Option("model,common,brasyn", "--protocols", help="Row sets, comma-separated: 'model' (the intensity scale the model was trained in), 'common' (the truth's own 0.5-99.5 percentile window), 'brasyn' (the BraSyn challenge's per-volume normalisation, 3D SSIM outside and inside the lesion label)."),
) -> None:
    """Score a model on a site's split: PSNR and SSIM over slices with enough brain, averaged per case, then mean ± std over cases, in each protocol's intensity scale (see --protocols and the README's evaluation section).

    Baselines on the same slices give the numbers meaning: the first source linearly intensity-matched to the target and (many-to-one) a least-squares linear combination of the sources, both fitted on the training split, and the same fit on each case's own truth as a ceiling.
    """
    from pmm.text_inputs import protocol_names
    from pmm_core.data.cache import default_cache_root
    from pmm_core.data.site_caches import site_cache_dirs
    from pmm_core.tasks import parse_task
    from pmm.tracking.settings import TrackingSettings

    (site_dir,) = site_cache_dirs([site], cache_root or default_cache_root())  # a wrong site fails before torch loads
    tasks = [parse_task(t) for t in task or []]
    from pmm.inference.evaluate_run import run_evaluation

    run_evaluation(checkpoint, site_dir, tasks, split, out,
                   TrackingSettings(experiment=experiment, tracking_uri=tracking_uri), batch_size, echo=typer.echo,
                   protocols=protocol_names(protocols), peers=list(peer or []))
