"""MLflow, touched only here: the centralized trainer, `pmm evaluate` and the federation server
all log through `RunTracker`, so runs share metric names and compare side by side in the UI."""
from __future__ import annotations

from tracking.mlflow_tracking import RunTracker, flatten, resolve_tracking_uri
from tracking.settings import TrackingSettings

__all__ = ["RunTracker", "TrackingSettings", "flatten", "resolve_tracking_uri"]
