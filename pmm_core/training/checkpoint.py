"""Checkpoints: written atomically (temporary file, then rename), loaded with weights_only.

A checkpoint holds everything a killed run needs to continue at the same step: model,
optimizers, schedulers, gradient scaler, epoch and step, RNG states and the config.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pmm_core.atomic import atomic_destination
from pmm_core.errors import PmmError


def save_checkpoint(payload: dict[str, Any], path: Path) -> None:
    with atomic_destination(path, ".pt") as temporary:
        torch.save(payload, temporary)


def load_checkpoint(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise PmmError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, or from something else
        raise PmmError(f"{path}: not a readable pmm checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or "model" not in payload or "config" not in payload:
        raise PmmError(f"{path}: not a pmm checkpoint (no model or config inside)")
    return payload
