"""Labels that keep a synthesized image from being mistaken for an acquisition.

Two labels on every output: the NIfTI header description (80 bytes, seen by every viewer) and a
BIDS-style JSON sidecar beside the image with `"Synthetic": true`, the target, the source
modalities, the site, the checkpoint and its SHA-256, the pmm version and the date. The sidecar
is also how a cohort run knows an output is finished and made by the same checkpoint.
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from centralized.model_loading import TrainedModel
from pmm_core.data.cache import write_json_atomic


def sidecar_path(image: Path) -> Path:
    """`x.nii.gz` → `x.json` (the BIDS convention)."""
    name = image.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return image.with_name(name[: -len(suffix)] + ".json")
    return image.with_name(name + ".json")


@functools.lru_cache(maxsize=8)
def checkpoint_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pmm_version() -> str:
    try:
        return metadata.version("pmm")
    except metadata.PackageNotFoundError:
        return "unknown"


def synthetic_description(target: str, sources: tuple[str, ...], site: str, checkpoint: Path) -> str:
    """The NIfTI `descrip` field (at most 79 characters), starting with SYNTHETIC."""
    return f"SYNTHETIC pmm {target} from {'+'.join(sources)} site {site} {checkpoint.name}"[:79]


def sidecar(trained: TrainedModel, target: str, sources: tuple[str, ...], site: str, reference: Path,
            intensity: str) -> dict[str, Any]:
    return {
        "Synthetic": True,
        "Modality": target,
        "SourceModalities": list(sources),
        "ReferenceImage": str(reference),
        "Site": site,
        "Checkpoint": str(trained.path),
        "CheckpointSHA256": checkpoint_sha256(Path(trained.path).resolve()),
        "IntensityScale": intensity,
        "GeneratedBy": [{"Name": "pmm", "Version": pmm_version()}],
        "Date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def write_sidecar(image: Path, trained: TrainedModel, target: str, sources: tuple[str, ...], site: str,
                  reference: Path, intensity: str) -> Path:
    path = sidecar_path(image)
    write_json_atomic(path, sidecar(trained, target, sources, site, reference, intensity))
    return path


def finished_output(image: Path, trained: TrainedModel, target: str, intensity: str) -> bool:
    """True when `image` and its sidecar exist and the sidecar says this checkpoint made this target
    in this intensity scale."""
    path = sidecar_path(image)
    if not image.is_file() or not path.is_file():
        return False
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return (record.get("Synthetic") is True and record.get("Modality") == target
            and record.get("IntensityScale") == intensity
            and record.get("CheckpointSHA256") == checkpoint_sha256(Path(trained.path).resolve()))
