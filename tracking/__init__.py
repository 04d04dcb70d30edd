"""MLflow, touched only here: the centralized trainer, `pmm evaluate` and the federation server
all log through `RunTracker`, so runs share metric names and compare side by side in the UI.

`TrackingSettings` is plain pydantic; MLflow itself (about 1 s to import, more for its SQL
store) loads on first use of `RunTracker` and friends, so a command that fails on its arguments,
or never tracks, does not pay for it.
"""
from __future__ import annotations

from typing import Any

from pmm.tracking.settings import TrackingSettings

_MLFLOW_NAMES = ("RunTracker", "flatten", "resolve_tracking_uri")

__all__ = ["RunTracker", "TrackingSettings", "flatten", "resolve_tracking_uri"]


def __getattr__(name: str) -> Any:
    if name in _MLFLOW_NAMES:
        from pmm.tracking import mlflow_tracking

        return getattr(mlflow_tracking, name)
    raise AttributeError(f"module 'tracking' has no attribute {name!r}")
