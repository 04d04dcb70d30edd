"""The server's checkpoint: the global shared parameters after the last completed round.

Written atomically after every round, so `pmm serve --resume` continues from the last round
that finished, whatever killed the server. It also remembers the MLflow parent and site runs,
so a resumed federation keeps logging into the same runs.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pmm_core.training.checkpoint import load_checkpoint, save_checkpoint

GLOBAL_FILE = "global.pt"


@dataclass
class GlobalState:
    round: int                                   # rounds completed
    shared: dict[str, np.ndarray]
    config: dict[str, Any]                       # FederationOptions as JSON
    mlflow_run_id: str | None = None
    site_runs: dict[str, str] = field(default_factory=dict)
    # this federation and no other (its name may repeat): sites key their rounds with it
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


def save_global_state(state: GlobalState, folder: Path) -> Path:
    path = Path(folder) / GLOBAL_FILE
    save_checkpoint({"round": state.round, "config": state.config, "mlflow_run_id": state.mlflow_run_id,
                     "site_runs": state.site_runs, "uid": state.uid,
                     "shared": {k: torch.from_numpy(np.asarray(v)) for k, v in state.shared.items()}}, path)
    return path


def load_global_state(folder: Path) -> GlobalState:
    payload = load_checkpoint(Path(folder) / GLOBAL_FILE, required=("round", "shared", "config"),
                              kind="pmm global state")
    return GlobalState(round=int(payload["round"]), config=payload["config"],
                       shared={k: v.numpy() for k, v in payload["shared"].items()},
                       mlflow_run_id=payload.get("mlflow_run_id"), site_runs=dict(payload.get("site_runs", {})),
                       **({"uid": payload["uid"]} if payload.get("uid") else {}))


# What a resumed federation must share with the saved one: the shared parameters' names and
# shapes follow from them (the rest, such as the rate or the quorum, may change on purpose).
RESUME_FIXED = (("training", "model"), ("training", "method"), ("partition",))


def _first_difference(saved: Any, now: Any, where: str) -> tuple[str, Any, Any] | None:
    if isinstance(saved, dict) and isinstance(now, dict):
        for key in sorted(set(saved) | set(now)):
            found = _first_difference(saved.get(key), now.get(key), f"{where}.{key}")
            if found:
                return found
        return None
    return None if saved == now else (where, saved, now)


def resume_conflict(saved: dict[str, Any], now: dict[str, Any]) -> str | None:
    """Why a federation saved with options `saved` cannot continue with `now` (both
    FederationOptions as JSON): another model, method or partition; None when it can."""
    for path in RESUME_FIXED:
        old, new = saved, now
        for key in path:
            old, new = (old or {}).get(key), (new or {}).get(key)
        found = _first_difference(old, new, ".".join(path))
        if found:
            where, old_value, new_value = found
            return f"{where} was {old_value!r} when the federation started and is {new_value!r} now"
    return None
