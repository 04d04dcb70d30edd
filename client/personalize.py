"""`pmm client --site NEW --personalize-only`: continual adaptation of a site that joins after the
federation trained (the paper's future work). The global shared network stays frozen; the new
site fits only what it keeps (its embedding, its discriminators, and modulation when personal)
on its own images, and keeps the result in its state folder like any federated site."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from pmm.inference.model_source import model_file
from pmm.inference.package import is_package, read_package
from pmm_core.config.partition import PartitionOptions
from pmm_core.config.training import TrainingOptions, saved_options

from pmm_core.config.federation import FederationOptions
from pmm_core.config.validation import validation_message
from pmm_core.errors import PmmError
from pmm_core.federated.global_state import load_global_state
from pmm_core.federated.initial_model import build_site_model
from pmm_core.federated.partition import shared_arrays
from pmm_core.federated.local_round import LocalRoundSpec, run_local_round


def personalize(site_dir: Path, global_model: Path | str | None, state_dir: Path, epochs: int, device: str,
                echo: Callable[[str], None], tracking_uri: str | None = None) -> dict[str, float]:
    if global_model is None:
        raise PmmError("--personalize-only needs --global-model: the global.pt in the federation server's --dir, "
                       "or an exported package (NAME.pmm, models:/NAME/VERSION)")
    path, _ = model_file(global_model, tracking_uri)
    if is_package(path):
        training, partition, shared, label = package_start(path)
    else:
        training, partition, shared, label = global_state_start(path)
    spec = LocalRoundSpec(site_dir=site_dir, state_dir=state_dir, options=training, partition=partition,
                          local_epochs=epochs, round_label=f"personalize:{label}", personalize_only=True,
                          device=device)
    result = run_local_round(spec, shared, echo=echo)
    for key, value in sorted(result.metrics.items()):
        if key.startswith("val/"):
            echo(f"  {key}: {value:.4f}")
    return result.metrics


def global_state_start(path: Path) -> tuple[TrainingOptions, PartitionOptions, dict[str, np.ndarray], str]:
    """What a federation's global.pt (or the server's folder holding it) starts a site from."""
    if path.is_file() and path.name != "global.pt":
        raise PmmError(f"--global-model {path}: give the federation's global.pt (or the server's --dir holding it) or "
                       "an exported package (NAME.pmm), not a site's model.pt or a run's checkpoint")
    state = load_global_state(path.parent if path.name == "global.pt" else path)
    try:
        options = FederationOptions.model_validate(state.config)
    except ValidationError as exc:  # saved by another version of pmm
        raise PmmError(validation_message(path, exc, hint="written by another version of pmm?")) from None
    return options.training, options.partition, state.shared, str(state.round)


def package_start(path: Path) -> tuple[TrainingOptions, PartitionOptions, dict[str, np.ndarray], str]:
    """What an exported package starts a site from: its shared network under its federation's
    partition (a centralized model's under the default one); its sites' personal parts stay behind."""
    package = read_package(path)
    manifest = package.manifest
    training = saved_options(manifest.options, f"{path} (written by another version of pmm?)")
    if training.method != "pmm-synth":
        raise PmmError(f"{path}: a {training.method} model has no personal parameters to fit; personalization is "
                       "for PMM-Synth models")
    partition = PartitionOptions.model_validate(manifest.partition) if manifest.partition else PartitionOptions()
    names = shared_arrays(build_site_model(training), partition)
    missing = sorted(set(names) - set(package.weights))
    if missing:
        raise PmmError(f"{path}: lacks shared parameter {missing[0]!r} of the model its options describe")
    return training, partition, {name: package.weights[name].numpy() for name in names}, manifest.name
