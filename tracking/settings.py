"""Where a run is recorded and how it is labelled: typed, so library callers (the experiments,
tests) pass them as they are and only the CLI turns flags into them."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TrackingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    experiment: str = Field("pmm", min_length=1, description="MLflow experiment name")
    tracking_uri: str | None = Field(None, description="MLflow store; default $MLFLOW_TRACKING_URI, else ./mlflow.db")
    run_name: str | None = Field(None, description="the run's name; default the run folder's name")
    tags: dict[str, str] = Field(default_factory=dict, description="extra tags, e.g. an experiment's name")
    registered_model: str | None = Field(None, min_length=1, description="register the run's package as a new version of "
                                 "this model in the MLflow Model Registry")
