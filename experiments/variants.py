"""The models an experiment compares, each trained through the path a user runs.

- centralized variants: `run_central` (what `pmm train-central` does) on a set of sites, with
  PFM and MCBS on or off; the model is the run's best.pt (best val PSNR);
- the federated variant: `pmm simulate` of every site (rounds of one local epoch); each site's
  model is the final global network with its personal parameters (`<state>/<SITE>/model.pt`).
Every run goes to the MLflow experiment `experiments`, named `<experiment>/<variant>`.
"""
from __future__ import annotations

from pathlib import Path

from centralized.run_central import run_central
from experiments.settings import MLFLOW_EXPERIMENT
from experiments.workspace import Workspace
from pmm_core.config.federation import FederationOptions
from pmm_core.config.training import options_with_overrides
from pmm_core.errors import PmmError
from pmm_core.federated.partition import PartitionOptions
from server.settings import ServerSettings
from server.simulate import simulate


def chosen_checkpoint(run_dir: Path) -> Path:
    """best.pt (best val PSNR), or last.pt for a run whose val cases serve no task (TTI alone)."""
    best = run_dir / "best.pt"
    return best if best.is_file() else run_dir / "last.pt"


def train_central(space: Workspace, label: str, sites: list[str], pfm: bool = True, mcbs: bool = True,
                  epochs: int | None = None) -> Path:
    """Train (or reuse a finished run of) one centralized variant; returns its chosen checkpoint."""
    run_dir = space.runs / label
    if (run_dir / "DONE").is_file():
        space.echo(f"{label}: reusing {run_dir}")
        space.timings[label] = float((run_dir / "DONE").read_text())
        return chosen_checkpoint(run_dir)
    config = space.training_config(label, epochs=epochs)
    space.echo(f"{label}: training on {', '.join(sites)} (PFM {'on' if pfm else 'off'}, MCBS {'on' if mcbs else 'off'})")
    with space.timed(label):
        run_central(sites=",".join(str(space.site_toml(s)) for s in sites), epochs=None, batch_size=None,
                    no_pfm=not pfm, no_mcbs=not mcbs, resume=None, config=config, cache_dir=space.cache, run_dir=run_dir,
                    max_steps=None, checkpoint_every=0, experiment=MLFLOW_EXPERIMENT, tracking_uri=space.tracking_uri,
                    progress=False, echo=lambda _: None)
    (run_dir / "DONE").write_text(str(space.timings[label]))
    return chosen_checkpoint(run_dir)


def train_federated(space: Workspace, label: str, sites: list[str]) -> dict[str, Path]:
    """`pmm simulate` of `sites` for as many rounds as the centralized epochs; returns each site's model."""
    folder, state = space.runs / label, space.runs / label / "state"
    models = {site: state / site / "model.pt" for site in sites}
    if (folder / "DONE").is_file() and all(p.is_file() for p in models.values()):
        space.echo(f"{label}: reusing {folder}")
        space.timings[label] = float((folder / "DONE").read_text())
        return models
    config = space.training_config(label)
    options = FederationOptions(rounds=space.settings.epochs, local_epochs=1, min_sites=len(sites),
                                expected_sites=len(sites), partition=PartitionOptions(),
                                training=options_with_overrides(config))
    settings = ServerSettings(federation=options, name=f"{space.name}-{label}", resume=False,
                              experiment=MLFLOW_EXPERIMENT, tracking_uri=space.tracking_uri)
    space.echo(f"{label}: pmm simulate of {', '.join(sites)}, {options.rounds} rounds of 1 local epoch")
    with space.timed(label):
        status = simulate(settings, folder / "federation", [space.site_dir(s) for s in sites], state, lambda _: None)
    if not status.ok:
        raise PmmError(f"{label}: the federation stopped: {status.message}")
    (folder / "DONE").write_text(str(space.timings[label]))
    return models
