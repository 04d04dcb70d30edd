"""A finished run's model as its MLflow artifact: the exported package (`package/NAME.pmm`, with
its card and hash) in place of a pickled MLflow model, registered as a new version of a
registered model when the run was asked to (`--register NAME`)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pmm.inference.export import ExportedPackage, export_checkpoint
from pmm.tracking import RunTracker
from pmm.tracking.registry import PACKAGE_ARTIFACT, register_package


def publish_package(tracker: RunTracker, checkpoint: Path, out: Path, register: str | None = None,
                    echo: Callable[[str], None] = print) -> ExportedPackage:
    """Export `checkpoint` (a run's best.pt, a federation's global.pt) to `out`, log it to the run
    and, with `register`, make it the newest version of that registered model."""
    exported = export_checkpoint(checkpoint, out)
    tracker.log_artifact(exported.path, PACKAGE_ARTIFACT)
    tracker.set_tags({"pmm.package_sha256": exported.sha256})
    echo(f"package {exported.path} (SHA-256 {exported.sha256[:16]}...) logged to the run")
    if register:
        version = register_package(tracker.client, tracker.run_id, register, exported.card, exported.sha256)
        echo(f"registered as {version.uri}")
    return exported
