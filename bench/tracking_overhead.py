"""What a run's model costs in MLflow: the exported package (what pmm logs) against the pickled
MLflow model it replaced, for the same weights in the same SQLite store, side by side.

Every training run (`pmm train-central`, each experiment variant, the demo) ends by logging its
model. The pickled way (`mlflow.pytorch.log_model`) writes an MLmodel folder whose loading runs
pickled code, and infers its pip requirements in a new Python process unless they are declared.
The package is one zip of safetensors, JSON and the model card, logged as a plain artifact, and
read back without unpickling. Times per model: logging, and loading back on this machine.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from importlib import metadata
from pathlib import Path

from bench.common import write_results
from bench.training_speed import model_options
from pmm_core.config.training import TrainingOptions
from pmm_core.models import build_model

PICKLED_REQUIREMENTS = ("cloudpickle", "numpy", "pandas", "pmm", "torch")


def declared_requirements() -> list[str]:
    return [f"{name}=={metadata.version(name).split('+')[0]}" for name in PICKLED_REQUIREMENTS]


def pickled_seconds(model, uri: str, requirements: list[str] | None) -> tuple[float, float]:
    import mlflow
    import mlflow.pytorch

    mlflow.set_tracking_uri(uri)
    with mlflow.start_run() as run:
        started = time.perf_counter()
        mlflow.pytorch.log_model(model, name="model", serialization_format="pickle", pip_requirements=requirements)
        logged = time.perf_counter() - started
    started = time.perf_counter()
    mlflow.pytorch.load_model(f"runs:/{run.info.run_id}/model")
    return logged, time.perf_counter() - started


def package_seconds(model, options: TrainingOptions, uri: str, folder: Path) -> tuple[float, float, int]:
    from pmm.inference.package import read_package, write_package
    from pmm.tracking import RunTracker

    tracker = RunTracker("bench", tracking_uri=uri)
    started = time.perf_counter()
    path = folder / f"{tracker.run_id}.pmm"
    write_package(path, name="bench", kind="trained", options=options.model_dump(mode="json"), sites=[],
                  training={}, weights=model.state_dict(), card="# bench\n")
    tracker.log_artifact(path, "package")
    logged = time.perf_counter() - started
    tracker.finish()
    started = time.perf_counter()
    model.load_state_dict(read_package(path).weights)
    return logged, time.perf_counter() - started, path.stat().st_size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="models logged each way")
    args = parser.parse_args(argv)
    print(f"tracking_overhead: the demo-width model logged {args.repeats} times each way: pickled MLflow model "
          "(requirements inferred, then declared) against pmm's package")
    options = TrainingOptions(model=model_options("small"))
    model = build_model(options.model)
    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{Path(folder) / 'mlflow.db'}"
        pickled_seconds(model, uri, declared_requirements())  # the store's tables are created once, outside the timing
        inferred = [pickled_seconds(model, uri, None) for _ in range(args.repeats)]
        declared = [pickled_seconds(model, uri, declared_requirements()) for _ in range(args.repeats)]
        packaged = [package_seconds(model, options, uri, Path(folder)) for _ in range(args.repeats)]
    mean = lambda values: round(sum(values) / len(values), 3)  # noqa: E731
    rows = [{"way": "pickled, requirements inferred by MLflow", "log_s": mean([r[0] for r in inferred]),
             "load_s": mean([r[1] for r in inferred])},
            {"way": "pickled, requirements declared", "log_s": mean([r[0] for r in declared]),
             "load_s": mean([r[1] for r in declared])},
            {"way": "pmm package (safetensors, no pickle)", "log_s": mean([r[0] for r in packaged]),
             "load_s": mean([r[1] for r in packaged]), "bytes": packaged[0][2]}]
    table = ["| logged model | s to log | s to load back |", "|---|---|---|"]
    table += [f"| {row['way']} | {row['log_s']} | {row['load_s']} |" for row in rows]
    table += ["", f"package: {rows[2]['bytes']:,} bytes; pickled/declared over package, logging: "
              f"{rows[1]['log_s'] / max(rows[2]['log_s'], 1e-9):.1f}x."]
    write_results("tracking_overhead", {"config": vars(args), "rows": rows}, table)
