"""A site's own state folder: what must outlive one Flower run.

Flower's `Context.state` lasts one run and a SuperNode restart loses it, but a hospital that
rejoins next month must find its dataset embedding (and its discriminators and optimizer
moments) again. So the client keeps them in a folder it owns, `<state-dir>/<SITE>/state.pt`,
rewritten atomically after every round: a kill mid-write leaves the previous round's state.

A round counts only once the server has aggregated it. A server killed mid-round and resumed
asks for the same round again; the site then returns to the state it kept from before that
round (`state.before.pt`) instead of training it a second time on top of the first, so the
resumed federation is the one an uninterrupted run would have made.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pmm_core.atomic import atomic_destination
from pmm_core.errors import PmmError
from pmm_core.training.checkpoint import load_checkpoint, save_checkpoint

STATE_FORMAT = 1
STATE_FILE = "state.pt"
BEFORE_FILE = "state.before.pt"  # the state as it was before the last round the site trained


@dataclass
class SiteState:
    """Everything personal: parameters, optimizer states, condition RNG, and the rounds done."""

    site: str
    model_config: dict[str, Any]
    personal: dict[str, torch.Tensor]
    optimizer_generator: dict[str, Any] | None = None
    optimizer_discriminator: dict[str, Any] | None = None
    condition_rng: dict[str, Any] | None = None
    epochs_done: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, **self.__dict__}


def state_path(state_dir: Path, site: str, name: str = STATE_FILE) -> Path:
    return Path(state_dir) / site / name


def save_site_state(state: SiteState, state_dir: Path) -> Path:
    path = state_path(state_dir, state.site)
    save_checkpoint(state.payload(), path)
    return path


def keep_state_before_round(state_dir: Path, site: str) -> None:
    """Copy the state a round starts from to `state.before.pt` (byte for byte: the loaded tensors
    are changed in place by the round), or remove it before a site's first round."""
    source, kept = state_path(state_dir, site), state_path(state_dir, site, BEFORE_FILE)
    if not source.is_file():
        kept.unlink(missing_ok=True)
        return
    with atomic_destination(kept, ".pt") as temporary:
        shutil.copyfile(source, temporary)


def load_site_state(state_dir: Path, site: str, model_config: dict[str, Any], name: str = STATE_FILE) -> SiteState | None:
    """The saved state (`name`: BEFORE_FILE for the one before the last round), or None for a site
    that never trained; a model mismatch is an error."""
    path = state_path(state_dir, site, name)
    if not path.is_file():
        return None
    payload = load_checkpoint(path, required=("format", "site", "model_config", "personal"), kind="pmm site state")
    if payload["format"] != STATE_FORMAT:
        raise PmmError(f"{path}: site state format {payload['format']}, this pmm reads {STATE_FORMAT}; "
                       "move the folder away to start this site afresh")
    if payload["model_config"] != model_config:
        changed = sorted(k for k in set(model_config) | set(payload["model_config"])
                         if model_config.get(k) != payload["model_config"].get(k))
        raise PmmError(f"{path}: saved for a different model ({', '.join(changed)} differ); "
                       "use another --state-dir or move the folder away")
    payload.pop("format")
    return SiteState(**payload)
