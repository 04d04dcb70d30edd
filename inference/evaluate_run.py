"""`pmm evaluate`: the paper-format table for one site, written as CSV/JSON and logged to MLflow."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from pmm.inference.model_loading import default_device
from pmm.inference.evaluate_peers import load_peers, score_peers
from pmm.inference.model_source import load_model
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.records import split_sha256
from pmm_core.errors import PmmError
from pmm_core.evaluation.evaluate import METHODS, evaluate_site
from pmm_core.evaluation.montage import montage_figure
from pmm_core.evaluation.protocols import PROTOCOLS
from pmm_core.evaluation.report import evaluation_rows, flat_metrics, format_table, write_reports
from pmm_core.tasks import Task, default_tasks
from pmm.tracking import RunTracker, TrackingSettings


def run_evaluation(checkpoint: Path | str, site_dir: Path, tasks: list[Task] | None, split: str = "test",
                   out: Path | None = None, tracking: TrackingSettings | None = None, batch_size: int = 16,
                   echo: Callable[[str], None] = print, protocols: tuple[str, ...] = PROTOCOLS,
                   peers: list[str | Path] | None = None) -> list[dict]:
    """Score `checkpoint` on the prepared site `site_dir` (its paper tasks unless `tasks` are
    given) in the intensity scale it was trained in for that site, under each protocol; the table
    is printed, written beside the checkpoint (a registered model's: ./evaluation; or to `out`) and
    logged. `checkpoint` may be a package or a models:/ URI of the tracking store. `peers`: other
    models (e.g. a pix2pix run) scored beside it on the tasks they serve, each a column of the
    montage and its own table (`evaluate_peers`)."""
    tracking = tracking or TrackingSettings()
    device = default_device()
    trained = load_model(checkpoint, device, tracking.tracking_uri)
    others = load_peers(peers or [], device, tracking.tracking_uri)
    fingerprint = load_fingerprint(site_dir)
    if not fingerprint.split.get(split):
        counts = ", ".join(f"{name} {len(cases)}" for name, cases in fingerprint.split.items())
        raise PmmError(f"site {fingerprint.site}'s {split} split is empty ({fingerprint.num_cases} cases: {counts}): "
                       f"a site needs 3 cases or more for val and test; add cases and run `pmm prepare --site "
                       f"{fingerprint.site}` again (new cases join the empty splits), or pass another --split")
    known = trained.site(fingerprint.site)
    if known is None:
        echo(f"note: {checkpoint} was not trained on site {fingerprint.site}; its dataset embedding is untrained "
             "and the site's own intensity standardization is used")
    else:
        known.refuse_seen_cases(fingerprint, split, checkpoint)
        if known.split is None and known.split_sha256 and known.split_sha256 != split_sha256(fingerprint.split):
            echo(f"note: {checkpoint} keeps no case ids, and site {fingerprint.site}'s split is not the one it trained "
                 f"with; its {split} cases may include cases it trained on")
    for task in tasks or []:
        reason = trained.refusal(list(task.sources), task.target)
        if reason:
            raise PmmError(reason)
    chosen = tasks or trained.method.tasks(trained.options, default_tasks(fingerprint.site, fingerprint.modalities))
    result = evaluate_site(trained.model, site_dir, chosen, split, device, batch_size,
                           trained.options.min_brain_fraction, standardization=known.intensity if known else None,
                           protocols=protocols, precision=trained.precision)
    summary = result.summary()
    empty = [task for task, methods in summary.items() if not methods]
    if len(empty) == len(chosen):
        raise PmmError(f"no case of site {fingerprint.site}'s {split} split has the modalities of "
                       f"{', '.join(empty)}; its coverage is {', '.join(fingerprint.modalities)}")
    for task in empty:
        echo(f"note: no case of the {split} split has the modalities of {task}; it is left out")
    rows = evaluation_rows(result)
    echo(format_table(rows, "pmm" if trained.options.method == "pmm-synth" else trained.method.label))
    out = out or (Path("evaluation") if trained.origin else trained.path.parent / "evaluation")
    csv_path, json_path = write_reports(rows, out, f"{fingerprint.site}_{split}")
    echo(f"written {csv_path} and {json_path}")
    compared = score_peers(others, site_dir, fingerprint, chosen, split, device, batch_size, result.protocols, echo)
    peer_reports = [write_reports(peer.rows, out, f"{fingerprint.site}_{split}_{peer.label.replace(' ', '_')}")
                    for peer in compared]

    with RunTracker(tracking.experiment, run_name=tracking.run_name or f"evaluate-{fingerprint.site}-{split}",
                    tracking_uri=tracking.tracking_uri,
                    tags={"pmm.mode": "evaluate", "pmm.sites": fingerprint.site, "pmm.split": split,
                          "pmm.checkpoint": trained.origin or str(trained.path.resolve()),
                          "pmm.method": trained.options.method,
                          "pmm.pfm": str(trained.options.model.pfm), "pmm.mcbs": str(trained.options.mcbs)}
                    | tracking.tags) as tracker:
        metrics = {}
        for protocol in result.protocols:
            for method in METHODS:
                metrics |= flat_metrics(split, fingerprint.site, result.summary(protocol), method, protocol)
        tracker.log_metrics(metrics, step=0)
        tracker.log_artifact(csv_path, "evaluation")
        tracker.log_artifact(json_path, "evaluation")
        for peer, (peer_csv, peer_json) in zip(compared, peer_reports):
            tracker.log_params({f"peer.{peer.label}": str(peer.source)})
            tracker.log_artifact(peer_csv, "evaluation")
            tracker.log_artifact(peer_json, "evaluation")
        if result.examples:
            import matplotlib.pyplot as plt

            figure = montage_figure(fingerprint.site, result.examples, "pmm" if trained.options.method == "pmm-synth"
                                    else trained.method.label, {peer.label: peer.examples for peer in compared})
            tracker.log_figure(figure, f"evaluation/{fingerprint.site}_{split}.png")
            plt.close(figure)
    echo(f"MLflow run {tracker.run_id} in {tracker.uri}")
    return rows
