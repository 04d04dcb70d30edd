"""The model a site ends a federation with: the final global shared network plus its own personal
parameters, written as a regular pmm checkpoint (`<state-dir>/<SITE>/model.pt`), so
`pmm evaluate` and `pmm synthesize --checkpoint` use it like a centralized one."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pmm_core.build_info import build_info
from pmm_core.config.training import TrainingOptions
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.records import SiteRecord
from pmm_core.federated.initial_model import build_site_model
from pmm_core.federated.partition import PartitionOptions, load_named
from pmm_core.federated.site_state import load_site_state
from pmm_core.models.pmm_synth import PMMSynth
from pmm_core.training.checkpoint import save_checkpoint

MODEL_FILE = "model.pt"


def assemble_site_model(site_dir: Path, state_dir: Path, options: TrainingOptions, partition: PartitionOptions,
                        shared: dict[str, np.ndarray]) -> tuple[PMMSynth, SiteRecord]:
    """(model, site record): global shared parameters + the site's saved personal ones."""
    fingerprint = load_fingerprint(site_dir)
    model = build_site_model(options)
    state = load_site_state(state_dir, fingerprint.site, options.model.model_dump(mode="json"))
    if state is not None:
        load_named(model, state.personal, partition.personal)
    load_named(model, shared, partition.shared)
    return model, SiteRecord.of(site_dir, fingerprint)


def write_site_model(model: PMMSynth, options: TrainingOptions, site: SiteRecord, state_dir: Path, federation: str,
                     round_number: int) -> Path:
    path = Path(state_dir) / site.name / MODEL_FILE
    save_checkpoint({"format": 1, "config": options.model_dump(mode="json"), "sites": [site.model_dump()],
                     "model": model.state_dict(), "federation": federation, "round": round_number,
                     "pmm": build_info()}, path)
    return path
