"""`pmm export`: a checkpoint (a run's best.pt or last.pt, a federated site's model.pt) or a
federation's global.pt turned into a package (`package.py`) with its model card.

What leaves the machine is what inference needs and what a reader needs to judge the model:
the weights, the options, each site's shareable record (dataset id, modalities, preprocessing,
intensity standardization), how it was trained (sites, cases per availability pattern, epochs,
schedule, the pmm that trained it) and its evaluation tables. Optimizer and RNG states, case ids
and the paths of the training machine stay behind.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pmm.inference.model_card import model_card
from pmm.inference.model_loading import checkpoint_sites
from pmm.inference.package import (SUFFIX, PackageKind, evaluation_rows, evaluation_tables, inference_weights,
                                   is_package, write_package)
from pmm_core.config.training import TrainingOptions, saved_options
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.records import SiteRecord
from pmm_core.errors import PmmError
from pmm_core.federated.global_state import GLOBAL_FILE, load_global_state
from pmm_core.modalities import availability_vector, pattern_name
from pmm_core.training.checkpoint import load_checkpoint


@dataclass(frozen=True)
class ExportedPackage:
    path: Path
    sha256: str
    card: str


def training_cases_by_pattern(record: SiteRecord) -> dict[str, int] | None:
    """How many of the site's training cases had each availability pattern (T1+T2+FLAIR, ...),
    read from the site's fingerprint while it is still on this machine; None once it is gone."""
    if record.site_dir is None or record.split is None:
        return None
    try:
        fingerprint = load_fingerprint(Path(record.site_dir))
    except PmmError:
        return None
    cases = [fingerprint.cases[c] for c in record.split.get("train", []) if c in fingerprint.cases]
    return dict(sorted(Counter(pattern_name(availability_vector(c.modalities)) for c in cases).items()))


def training_summary(checkpoint: dict[str, Any], options: TrainingOptions, records: list[SiteRecord]) -> dict[str, Any]:
    """How the model was trained, as the card and the manifest say it."""
    best = checkpoint.get("best_score")
    sites = {record.name: {"dataset_id": record.dataset_id, "modalities": record.modalities,
                           "cases": {split: len(cases) for split, cases in (record.split or {}).items()},
                           "training_cases_by_availability": training_cases_by_pattern(record)}
             for record in records}
    return {
        "method": options.method, "sites": sites,
        "epochs": options.epochs, "epochs_completed": checkpoint.get("epoch"), "steps": checkpoint.get("global_step"),
        "batch_size": options.batch_size, "learning_rate": options.learning_rate,
        "decay_start_epoch": options.decay_start, "mcbs": options.mcbs, "pfm": options.model.pfm,
        "pathology": options.pathology.model_dump(mode="json"),
        "selected_by": checkpoint.get("best_by"),
        "best_val_psnr": round(float(best), 3) if isinstance(best, float) and math.isfinite(best) else None,
        "processes": checkpoint.get("world_size", 1),
        "federation": checkpoint.get("federation"), "federation_round": checkpoint.get("round"),
        "mlflow_run_id": checkpoint.get("mlflow_run_id"),
        "started_from": checkpoint.get("init"),
        "trained_with": checkpoint.get("pmm") or {"version": "unknown (before pmm recorded it)", "commit": "unknown"},
    }


def package_name(out: Path) -> str:
    return Path(out).name.removesuffix(SUFFIX)


def _checked_out(out: Path) -> Path:
    out = Path(out)
    if out.suffix != SUFFIX:
        raise PmmError(f"--out {out}: a package's name ends in {SUFFIX}, e.g. {out.with_suffix(SUFFIX).name}")
    if out.is_dir():
        raise PmmError(f"--out {out}: is a folder; give the package's file name, e.g. {out / ('model' + SUFFIX)}")
    return out


def export_checkpoint(checkpoint_path: Path, out: Path, evaluation: Path | None = None,
                      licence: str = "other") -> ExportedPackage:
    """Package the model of `checkpoint_path`; the evaluation tables of `evaluation` (default: the
    `evaluation/` folder beside the checkpoint, where `pmm evaluate` writes them) go in with it."""
    out, checkpoint_path = _checked_out(out), Path(checkpoint_path)
    if is_package(checkpoint_path):
        raise PmmError(f"{checkpoint_path}: is already a package; copy it, or export the checkpoint it came from")
    if checkpoint_path.name == GLOBAL_FILE or checkpoint_path.is_dir():
        return export_global_state(checkpoint_path, out, licence)
    checkpoint = load_checkpoint(checkpoint_path, required=("model", "config", "sites"),
                                 kind="pmm checkpoint (a run's best.pt or last.pt, a site's model.pt)")
    options = saved_options(checkpoint["config"], f"{checkpoint_path} (written by another version of pmm?)")
    records = checkpoint_sites(checkpoint, checkpoint_path)
    tables = evaluation_tables(evaluation if evaluation is not None else checkpoint_path.parent / "evaluation")
    return _write(out, "trained", options, records, training_summary(checkpoint, options, records),
                  inference_weights(checkpoint["model"]), tables, partition=None, source=checkpoint_path.name,
                  licence=licence)


def export_global_state(path: Path, out: Path, licence: str = "other") -> ExportedPackage:
    """A federation's shared network (the server's global.pt): no site's personal parameters or
    records travel, so the package is personalized at a site before it synthesizes
    (`pmm client --personalize-only --global-model NAME.pmm`)."""
    from pmm_core.config.federation import FederationOptions
    from pmm_core.federated.initial_model import build_site_model

    folder = path if path.is_dir() else path.parent
    state = load_global_state(folder)
    federation = FederationOptions.model_validate(state.config)
    model = build_site_model(federation.training)
    weights = {name: torch.from_numpy(value.copy()) for name, value in state.shared.items()}
    missing = set(weights) - set(model.state_dict())
    if missing:
        raise PmmError(f"{folder / GLOBAL_FILE}: its shared parameters do not fit the model its options describe "
                       f"({sorted(missing)[0]!r})")
    summary = {"method": federation.training.method, "sites": {}, "epochs": federation.training.epochs,
               "federation_round": state.round, "rounds": federation.rounds,
               "pathology": federation.training.pathology.model_dump(mode="json"),
               "trained_with": {"version": "unknown", "commit": "unknown"}}
    return _write(out, "federated-global", federation.training, [], summary, weights, {},
                  partition=federation.partition.model_dump(mode="json"), source=GLOBAL_FILE,
                  licence=licence)


def _write(out: Path, kind: PackageKind, options: TrainingOptions, records: list[SiteRecord], summary: dict[str, Any],
           weights: dict[str, torch.Tensor], tables: dict[str, bytes], partition: dict[str, Any] | None,
           source: str, licence: str) -> ExportedPackage:
    name = package_name(out)
    card = model_card(name, kind, options, records, summary, evaluation_rows(tables), source, licence)
    sha256 = write_package(out, name=name, kind=kind, options=options.model_dump(mode="json"), sites=records,
                           training=summary, weights=weights, card=card, partition=partition, evaluation=tables)
    return ExportedPackage(out, sha256, card)
