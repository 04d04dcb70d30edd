"""What logging a trained model to MLflow costs: requirements inferred by MLflow against declared.

Every training run (`pmm train-central`, each experiment variant, the demo) ends by logging its
model. Left to itself, `mlflow.pytorch.log_model` infers the pip requirements by loading the
model in a new Python process; pmm declares them (`tracking.mlflow_tracking.model_requirements`).
Both ways log the same model (the demo's width) to the same SQLite store, side by side.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import write_results
from bench.training_speed import model_options
from pmm_core.models import build_model
from pmm.tracking.mlflow_tracking import model_requirements


def log_seconds(model, uri: str, requirements: list[str] | None) -> float:
    import mlflow
    import mlflow.pytorch

    mlflow.set_tracking_uri(uri)
    with mlflow.start_run():
        started = time.perf_counter()
        mlflow.pytorch.log_model(model, name="model", serialization_format="pickle", pip_requirements=requirements)
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="models logged each way")
    args = parser.parse_args(argv)
    print(f"tracking_overhead: mlflow.pytorch.log_model of the demo-width model, {args.repeats} times each way, "
          "requirements inferred by MLflow against declared by pmm")
    model = build_model(model_options("small"))
    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{Path(folder) / 'mlflow.db'}"
        log_seconds(model, uri, model_requirements())  # the store's tables are created once, outside the timing
        inferred = [log_seconds(model, uri, None) for _ in range(args.repeats)]
        declared = [log_seconds(model, uri, model_requirements()) for _ in range(args.repeats)]
    row = {"inferred_s": round(sum(inferred) / len(inferred), 2), "declared_s": round(sum(declared) / len(declared), 3),
           "requirements": model_requirements()}
    row["inferred_over_declared"] = round(row["inferred_s"] / row["declared_s"], 1)
    table = ["| requirements | s per logged model |", "|---|---|",
             f"| inferred by MLflow | {row['inferred_s']} |", f"| declared by pmm | {row['declared_s']} |", "",
             f"{row['inferred_over_declared']}x; declared: {', '.join(row['requirements'])}."]
    write_results("tracking_overhead", {"config": vars(args), "rows": [row]}, table)


if __name__ == "__main__":
    main()
