"""One small wrapper over MlflowClient.

- The default store is an embedded SQLite file (`./mlflow.db`, artifacts in `./mlartifacts`);
  `MLFLOW_TRACKING_URI` or an explicit URI (a remote server) overrides it.
- The experiment is looked up, created once if missing, and then addressed by id: concurrent
  `set_experiment` calls can put runs in "Default" (seen with MLflow 3.17).
- Anonymous telemetry is off before mlflow is imported.
- A run's model is its exported package (`pmm.inference.publish`), logged as a plain artifact:
  no pickled MLflow model, so neither MLflow's pickle warning nor its requirement inference (a
  Python process importing torch, seconds per run: bench/tracking_overhead.py).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from pmm_core.build_info import git_commit  # noqa: E402

MAX_PARAM_LENGTH = 6000
def resolve_tracking_uri(uri: str | None = None) -> str:
    """Explicit URI, else $MLFLOW_TRACKING_URI, else sqlite:///<cwd>/mlflow.db."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd().resolve() / 'mlflow.db'}"


def _default_artifact_location(uri: str) -> str | None:
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
    return None


def experiment_id(client: MlflowClient, name: str, uri: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name, artifact_location=_default_artifact_location(uri))
    except MlflowException:  # another process created it between our two calls
        return client.get_experiment_by_name(name).experiment_id


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config → {'model.base_channels': '64', …} for MLflow params."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:MAX_PARAM_LENGTH]
    return flat


class RunTracker:
    """One MLflow run: create or resume, log params/metrics/figures/artifacts, finish."""

    def __init__(self, experiment: str, run_name: str | None = None, tags: dict[str, str] | None = None,
                 tracking_uri: str | None = None, run_id: str | None = None, parent_run_id: str | None = None):
        self.uri = resolve_tracking_uri(tracking_uri)
        self.client = MlflowClient(self.uri)
        self.finished = False
        if run_id is not None and not self._exists(run_id):
            tags = {**(tags or {}), "pmm.resumed_from_run": run_id}  # resumed against another store
            run_id = None
        if run_id is not None:
            self.run_id = run_id
            self.client.update_run(run_id, status="RUNNING")
        else:
            all_tags = {"pmm.git_commit": git_commit(), **(tags or {})}
            if parent_run_id:
                all_tags["mlflow.parentRunId"] = parent_run_id
            run = self.client.create_run(experiment_id(self.client, experiment, self.uri), run_name=run_name, tags=all_tags)
            self.run_id = run.info.run_id

    def _exists(self, run_id: str) -> bool:
        try:
            self.client.get_run(run_id)
            return True
        except MlflowException:
            return False

    def log_params(self, params: dict[str, Any]) -> None:
        items = [Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[start:start + 100])

    def set_tags(self, tags: dict[str, str]) -> None:
        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        for start in range(0, len(items), 500):
            self.client.log_batch(self.run_id, metrics=items[start:start + 500])

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        self.client.log_figure(self.run_id, figure, artifact_file)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def finish(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status)
        self.finished = True

    def __enter__(self) -> "RunTracker":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        """A run ends closed whatever happens inside the block: FINISHED when it returns, KILLED on
        Ctrl-C or a termination signal, FAILED on an error, whose one line goes into the run."""
        if getattr(self, "finished", False):
            return
        if kind is None:
            self.finish()
            return
        try:
            self.set_tags({"pmm.error": f"{kind.__name__}: {error}"[:4000]})
            self.finish("KILLED" if issubclass(kind, (KeyboardInterrupt, SystemExit)) else "FAILED")
        except Exception:  # the store itself failing must not hide the error that ended the run
            pass
