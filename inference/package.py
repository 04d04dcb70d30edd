"""The exported model a hospital hands to another: `NAME.pmm`, written by `pmm export`, read by
every command that takes `--checkpoint` and by `Synthesizer.load`.

A zip file, not a folder: one file to hand over, hash, attach to a registry version or a paper,
and any unzip tool opens it. Its members:

- `pmm-package.json`: what the model is (format, options, the sites it knows, the training
  summary, each member's SHA-256);
- `weights.safetensors`: the networks' tensors, without optimizer state;
- `MODEL_CARD.md`: the model card (`model_card.py`);
- `evaluation/*.json|csv`: the run's evaluation tables, when it has them.

Reading one never unpickles: JSON and safetensors only, so opening a package from a stranger
runs none of its contents. A checkpoint (`best.pt`) is a training state instead: optimizers,
RNG states and the paths of the machine that wrote it.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from pmm_core.atomic import atomic_destination, write_text_atomic
from pmm_core.build_info import build_info
from pmm_core.config.validation import validation_message
from pmm_core.data.records import SiteRecord
from pmm_core.errors import PmmError

PACKAGE_FORMAT = 1
SUFFIX = ".pmm"
MANIFEST = "pmm-package.json"
WEIGHTS = "weights.safetensors"
CARD = "MODEL_CARD.md"
EVALUATION = "evaluation/"

PackageKind = Literal["trained", "federated-global"]
# what a trained model's package leaves out: only inference's weights travel. The discriminators are
# half of a paper-size PMM-Synth and only train the generator; a site fine-tuning a package starts its
# own, as a site joining a federation does (they are personal there by default).
TRAINING_ONLY = ("discriminators.",)


def inference_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value for key, value in state.items() if not key.startswith(TRAINING_ONLY)}


def load_weights(model: torch.nn.Module, weights: dict[str, torch.Tensor], source: object,
                 may_lack: tuple[str, ...] = TRAINING_ONLY) -> None:
    """`weights` into `model`; only parameters under `may_lack` may be absent (they keep their
    initialisation). One line naming `source` when the weights do not fit."""
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as exc:  # a shape that differs
        raise PmmError(f"{source}: weights do not fit the model its options describe ({str(exc).splitlines()[-1].strip()})") from None
    lacking = [key for key in missing if not key.startswith(may_lack)]
    if unexpected or lacking:
        name, what = (unexpected[0], "unexpected") if unexpected else (lacking[0], "missing")
        raise PmmError(f"{source}: weights do not fit the model its options describe ({name!r} {what})")


class PackageManifest(BaseModel):
    """`pmm-package.json`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    format: int
    name: str
    # trained: a model with the sites it was trained on (a centralized run, a federated site's model);
    # federated-global: a federation's shared network alone, which a site personalizes before use
    kind: PackageKind
    created: str
    exported_by: dict[str, str]            # pmm version and commit that wrote the package
    options: dict[str, Any]                # TrainingOptions as JSON
    partition: dict[str, Any] | None = None  # the federation's partition (what is shared, what personal)
    sites: list[SiteRecord]                # shareable records: no folder, no case ids
    training: dict[str, Any]               # training_summary.py
    members: dict[str, str]                # member name -> SHA-256


@dataclass(frozen=True)
class ModelPackage:
    """A package read back: its manifest, weights and card, and the file's own SHA-256."""

    path: Path
    sha256: str
    manifest: PackageManifest
    weights: dict[str, torch.Tensor]
    card: str
    evaluation: dict[str, bytes]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_package(path: Path) -> bool:
    """A zip file with a pmm manifest inside (its suffix does not matter)."""
    path = Path(path)
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return MANIFEST in archive.namelist()


def write_package(out: Path, *, name: str, kind: PackageKind, options: dict[str, Any], sites: list[SiteRecord],
                  training: dict[str, Any], weights: dict[str, torch.Tensor], card: str,
                  partition: dict[str, Any] | None = None, evaluation: dict[str, bytes] | None = None) -> str:
    """Write the package atomically (nothing half written under `out`) and return its SHA-256;
    `NAME.pmm.sha256` beside it says the same in `sha256sum` form."""
    tensors = {key: value.detach().cpu().contiguous() for key, value in weights.items()}
    members = {WEIGHTS: save_safetensors(tensors, metadata={"format": "pt", "pmm_package": str(PACKAGE_FORMAT)}),
               CARD: card.encode()}
    members |= {f"{EVALUATION}{file}": data for file, data in sorted((evaluation or {}).items())}
    manifest = PackageManifest(
        format=PACKAGE_FORMAT, name=name, kind=kind,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        exported_by=build_info(), options=options, partition=partition,
        sites=[site.shareable() for site in sites], training=training,
        members={member: hashlib.sha256(data).hexdigest() for member, data in members.items()})
    out = Path(out)
    with atomic_destination(out, SUFFIX) as temporary:
        with zipfile.ZipFile(temporary, "w") as archive:
            archive.writestr(MANIFEST, manifest.model_dump_json(indent=2), compress_type=zipfile.ZIP_DEFLATED)
            for member, data in members.items():  # float weights barely compress: stored as they are
                archive.writestr(member, data, compress_type=zipfile.ZIP_STORED if member == WEIGHTS
                                 else zipfile.ZIP_DEFLATED)
    sha256 = file_sha256(out)
    write_text_atomic(out.with_name(out.name + ".sha256"), f"{sha256}  {out.name}\n")
    return sha256


def read_package(path: Path) -> ModelPackage:
    """The package at `path`, each member checked against the manifest's hash; one line naming
    the file when it is not a package, is damaged or comes from a newer pmm."""
    path = Path(path)
    if not is_package(path):
        raise PmmError(f"{path}: not a pmm package (a zip holding {MANIFEST})")
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = PackageManifest.model_validate_json(archive.read(MANIFEST))
            if manifest.format > PACKAGE_FORMAT:
                raise PmmError(f"{path}: package format {manifest.format} is newer than this pmm reads "
                               f"({PACKAGE_FORMAT}); update pmm")
            data = {member: archive.read(member) for member in manifest.members}
    except ValidationError as exc:
        raise PmmError(validation_message(f"{path} ({MANIFEST})", exc, first_only=True)) from None
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise PmmError(f"{path}: damaged package ({exc})") from None
    for member, expected in manifest.members.items():
        if hashlib.sha256(data[member]).hexdigest() != expected:
            raise PmmError(f"{path}: {member} does not match the SHA-256 its manifest records; the package was "
                           "altered or damaged in transfer")
    return ModelPackage(path=path, sha256=file_sha256(path), manifest=manifest,
                        weights=load_safetensors(data[WEIGHTS]), card=data[CARD].decode(),
                        evaluation={m.removeprefix(EVALUATION): d for m, d in data.items() if m.startswith(EVALUATION)})


def evaluation_tables(folder: Path | None) -> dict[str, bytes]:
    """The JSON and CSV tables `pmm evaluate` wrote into `folder` (none when it has none)."""
    if folder is None or not Path(folder).is_dir():
        return {}
    return {file.name: file.read_bytes() for file in sorted(Path(folder).iterdir())
            if file.suffix in (".json", ".csv") and file.is_file()}


def evaluation_rows(tables: dict[str, bytes]) -> list[dict[str, Any]]:
    """Every row of the JSON tables (the CSVs say the same)."""
    rows: list[dict[str, Any]] = []
    for name, data in tables.items():
        if name.endswith(".json"):
            try:
                loaded = json.loads(data)
            except json.JSONDecodeError:
                continue
            rows += [row for row in loaded if isinstance(row, dict)] if isinstance(loaded, list) else []
    return rows
