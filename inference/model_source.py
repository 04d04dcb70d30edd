"""What `--checkpoint` (and `Synthesizer.load`, `--init`, `--global-model`) may name: a checkpoint
file, an exported package, or a registered package as `models:/NAME/VERSION`, `models:/NAME@ALIAS`
or `models:/NAME/latest`, downloaded from the MLflow registry once (MLflow loads only then)."""
from __future__ import annotations

from pathlib import Path

import torch

from pmm.inference.model_loading import TrainedModel, load_trained_model
from pmm.inference.package import file_sha256
from pmm_core.errors import PmmError

REGISTRY_PREFIX = "models:/"


def model_file(source: str | Path, tracking_uri: str | None = None) -> tuple[Path, str | None]:
    """(a local file, the registry URI it came from or None)."""
    text = str(source)
    if not text.startswith(REGISTRY_PREFIX):
        return Path(text), None
    from pmm.tracking.registry import download_registered

    path, registered_sha256 = download_registered(text, tracking_uri)
    if registered_sha256 and file_sha256(path) != registered_sha256:
        raise PmmError(f"{text}: the downloaded package's SHA-256 is not the one registered ({registered_sha256[:16]}...); "
                       f"delete {path.parent} and try again")
    return path, text


def load_model(source: str | Path, device: torch.device, tracking_uri: str | None = None) -> TrainedModel:
    """The trained model `source` names, wherever it lives."""
    path, origin = model_file(source, tracking_uri)
    trained = load_trained_model(path, device)
    trained.origin = origin
    return trained
