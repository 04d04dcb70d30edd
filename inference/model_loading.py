"""A trained model from a checkpoint or an exported package (`package.py`), with the options
and sites it was trained with. A package is read without unpickling anything; a checkpoint with
torch's weights-only loader."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import torch
from pydantic import ValidationError

from pmm_core.config.training import TrainingOptions, saved_options
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
    package: str | None = None  # the package's name when it came from one (labels name it)
    origin: str | None = None   # what the user named when it was not a file (a models:/ registry URI)

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
    """The model in `path`: an exported package (`pmm export`) or a checkpoint pmm wrote; one line
    naming the file when it is neither."""
    from pmm.inference.package import is_package, load_weights, read_package

    path = Path(path)
    if is_package(path):
        package = read_package(path)
        if package.manifest.kind == "federated-global":
            raise PmmError(f"{path}: a federation's shared network without any site's personal parameters; a site "
                           "personalizes it first (`pmm client --site S --personalize-only --global-model "
                           f"{path.name}`) and synthesizes with the model.pt that writes")
        options = saved_options(package.manifest.options, f"{path} (written by another version of pmm?)")
        model = build_method_model(options)
        load_weights(model, package.weights, path)
        sites, name = list(package.manifest.sites), package.manifest.name
    else:
        checkpoint = load_checkpoint(path, kind="pmm checkpoint or package (.pmm)")
        # options another pmm version wrote (a key since renamed or removed): one line, not a traceback
        options = saved_options(checkpoint["config"], f"{path} (written by another version of pmm?)")
        model = build_method_model(options)
        load_weights(model, checkpoint["model"], path, may_lack=())
        sites, name = checkpoint_sites(checkpoint, path), None
    precision = resolve_precision(options.precision, options.channels_last, device)
    return TrainedModel(precision.prepare_model(model.to(device).eval()), options, sites, path, precision, name)


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
