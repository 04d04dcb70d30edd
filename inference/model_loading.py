"""A trained model from a checkpoint, with the options and sites it was trained with."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import torch
from pydantic import ValidationError

from pmm_core.config.training import TrainingOptions, checked_options
from pmm_core.data.records import SiteRecord
from pmm_core.errors import PmmError
from pmm_core.methods import Method, build_method_model, method_of
from pmm_core.training.checkpoint import load_checkpoint
from pmm_core.training.precision import Precision, resolve_precision


@dataclass
class TrainedModel:
    model: torch.nn.Module   # the checkpoint's method's networks (PMM-Synth, pix2pix, MM-GAN)
    options: TrainingOptions
    sites: list[SiteRecord]
    path: Path
    precision: Precision     # what it computes in on its device (as it trained, resolved for this machine)

    @property
    def method(self) -> Method:
        return method_of(self.options)

    def refusal(self, sources: list[str], target: str) -> str | None:
        """Why this model cannot synthesize `target` from exactly `sources` (a pix2pix model runs one task)."""
        reason = self.method.refusal(self.options, list(sources), target)
        return f"{self.path}: {reason}" if reason else None

    def usable_sources(self, available: list[str], target: str) -> tuple[str, ...]:
        """Of a case's `available` modalities, those the model synthesizes `target` from (every one;
        a pix2pix model: its task's sources), or a one-line PmmError when it cannot."""
        sources = self.method.inputs(self.options, list(available), target)
        reason = self.refusal(sources, target)
        if reason:
            raise PmmError(reason)
        return tuple(sources)

    def case_refusal(self, available: list[str], targets: list[str]) -> str | None:
        """Why this model cannot synthesize `targets` for a case holding `available` (checked
        before the case is read, so a cohort reports that case and goes on), or None."""
        for target in targets:
            try:
                self.usable_sources(available, target)
            except PmmError as exc:
                return str(exc)
        return None

    def site(self, name: str) -> SiteRecord | None:
        return next((s for s in self.sites if s.name.lower() == name.lower()), None)


def load_trained_model(path: Path, device: torch.device) -> TrainedModel:
    checkpoint = load_checkpoint(path)
    # options another pmm version wrote (a key since renamed or removed): one line, not a traceback
    options = checked_options(checkpoint["config"], f"{path} (written by another version of pmm?)")
    model = build_method_model(options)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as exc:
        raise PmmError(f"{path}: weights do not fit the model its config describes ({str(exc).splitlines()[0]})") from None
    precision = resolve_precision(options.precision, options.channels_last, device)
    return TrainedModel(precision.prepare_model(model.to(device).eval()), options, checkpoint_sites(checkpoint, path),
                        Path(path), precision)


def checkpoint_sites(checkpoint: dict, path: Path) -> list[SiteRecord]:
    """The sites a checkpoint records; one line when they predate what pmm records now."""
    try:
        return [SiteRecord.model_validate(s) for s in checkpoint["sites"]]
    except ValidationError as exc:
        field = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise PmmError(f"{path}: its site records lack {field} (written by an older pmm, before intensity "
                       "standardization was recorded); train the model again") from None


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
