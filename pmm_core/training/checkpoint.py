"""Checkpoints: written atomically (temporary file, then rename), loaded with weights_only.

A checkpoint holds everything a killed run needs to continue at the same step: model,
optimizers, gradient scaler, epoch and step, RNG states and the config (the learning rate
follows from the step, pmm_core.training.schedule).
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


def load_checkpoint(path: Path, required: tuple[str, ...] = ("model", "config"),
                    kind: str = "pmm checkpoint") -> dict[str, Any]:
    """The payload of a file pmm wrote, or one clear error naming the file.

    `required` are the keys a file of this `kind` must hold (a training checkpoint, a site
    state, the server's global state), so a file of another kind is refused by name.
    """
    path = Path(path)
    if not path.is_file():
        raise PmmError(f"{path}: {kind} not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, or from something else
        raise PmmError(f"{path}: not a readable {kind} ({type(exc).__name__})") from None
    missing = [key for key in required if not isinstance(payload, dict) or key not in payload]
    if missing:
        raise PmmError(f"{path}: not a {kind} (no {', '.join(missing)} inside)")
    return payload
