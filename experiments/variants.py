"""The models an experiment compares, each trained through the path a user runs.

- centralized variants: `run_central` (what `pmm train-central` does) on a set of sites, with
  PFM and MCBS on or off, or a comparison method (pix2pix, MM-GAN; `peer_options`); the model is
  the run's best.pt (best val PSNR);
- the federated variant: `pmm simulate` of every site (rounds of one local epoch); each site's
  model is the final global network with its personal parameters (`<state>/<SITE>/model.pt`).
Every run goes to the MLflow experiment `experiments`, named `<experiment>/<variant>`.
"""
from __future__ import annotations

import json
from pathlib import Path

from pmm.centralized.run_central import run_central
from pmm.centralized.trainer import RunSettings
from pmm.experiments.settings import MLFLOW_EXPERIMENT
from pmm.experiments.workspace import Workspace
from pmm_core.config.methods import MMGANOptions, Pix2PixOptions
from pmm_core.config.training import TrainingOptions, recorded_options
from pmm_core.tasks import Task, metric_key
from pmm_core.methods import method_of
from pmm_core.errors import PmmError
from pmm.server.settings import build_server_settings
from pmm.simulation.simulate import simulate
from pmm.tracking import TrackingSettings


def chosen_checkpoint(run_dir: Path) -> Path:
    """best.pt (best val PSNR), or last.pt for a run whose val cases serve no task (TTI alone)."""
    best = run_dir / "best.pt"
    return best if best.is_file() else run_dir / "last.pt"


def run_signature(sites: list[str], options: TrainingOptions, data: str = "cache") -> dict:
    """What makes two centralized runs the same run: the sites, the phantom cache they were read
    from (`cache`, or `cache-percentile` for another intensity scheme) and every training option
    (PFM and MCBS among them), as JSON."""
    return {"sites": list(sites), "training": options.model_dump(mode="json"), "data": data}


def variant_options(space: Workspace, pfm: bool = True, mcbs: bool = True, epochs: int | None = None) -> TrainingOptions:
    """The experiment's training options with PFM and MCBS as the variant has them."""
    options = space.settings.training_options(epochs=epochs, mcbs=mcbs)
    options.model = options.model.model_copy(update={"pfm": pfm})
    return options


def peer_options(space: Workspace, method: str, task: Task | None = None) -> TrainingOptions:
    """A comparison method's training options: the experiment's epochs, batch, rate and seed, its
    U-Net and PatchGAN at the experiment's model width (pix2pix's 64 scaled like PMM-Synth's)."""
    model = space.settings.model
    unet = {"base_channels": model.base_channels, "discriminator_channels": model.discriminator_channels,
            "discriminator_layers": model.discriminator_layers}
    changes = {"method": method, "mmgan": MMGANOptions(**unet)}
    if task is not None:
        changes["pix2pix"] = Pix2PixOptions(**unet, sources=list(task.sources), target=task.target)
    return space.settings.training_options(**changes)


def finished_run(space: Workspace, label: str, signature: dict) -> Path | None:
    """A finished run of this workspace with exactly `signature`: this experiment's own first,
    then any other experiment's (the full model of `tables` serves `segmentation` too)."""
    own = space.runs / label
    candidates = [own] + sorted(p.parent for p in space.out.glob("*/*/RUN.json") if p.parent != own)
    for run_dir in candidates:
        record = run_dir / "RUN.json"
        if (run_dir / "DONE").is_file() and record.is_file() and \
                recorded_signature(json.loads(record.read_text()).get("signature")) == signature:
            return run_dir
    return None


def recorded_signature(signature: dict | None) -> dict | None:
    """A RUN.json's signature with the options it predates read as that run had them (a run from
    before `[pathology] transposing` trained without it, and still serves a variant without it)."""
    if not isinstance(signature, dict) or not isinstance(signature.get("training"), dict):
        return signature
    return signature | {"training": recorded_options(signature["training"])}


def train_central(space: Workspace, label: str, sites: list[str], pfm: bool = True, mcbs: bool = True,
                  epochs: int | None = None, data: str = "cache", options: TrainingOptions | None = None) -> Path:
    """Train (or reuse a finished identical run of) one centralized variant on the workspace's
    prepared sites (`data`: which of the phantom's caches; `options`: a peer method's, instead of
    PMM-Synth's with `pfm`, `mcbs` and `epochs`); returns its chosen checkpoint."""
    options = options or variant_options(space, pfm, mcbs, epochs)
    site_dirs = [space.phantom / data / s for s in sites]
    signature = run_signature(sites, options, data)
    if (found := finished_run(space, label, signature)) is not None:
        space.echo(f"{label}: reusing {found} (same sites and settings)")
        space.timings[label] = float((found / "DONE").read_text())
        return chosen_checkpoint(found)
    run_dir = space.runs / label
    how = (f"PFM {'on' if options.model.pfm else 'off'}, MCBS {'on' if options.mcbs else 'off'}"
           if options.method == "pmm-synth" else f"{method_of(options).label}")
    space.echo(f"{label}: training on {', '.join(sites)} ({how})")
    with space.timed(label):
        run_central(options, site_dirs, RunSettings(run_dir=run_dir, checkpoint_every=0, progress=False),
                    TrackingSettings(experiment=MLFLOW_EXPERIMENT, tracking_uri=space.tracking_uri,
                                     run_name=f"{space.name}/{label}", tags={"pmm.experiment": space.name}),
                    echo=lambda _: None)
    (run_dir / "RUN.json").write_text(json.dumps({"signature": signature}, indent=1))
    (run_dir / "DONE").write_text(str(space.timings[label]))
    return chosen_checkpoint(run_dir)


def train_pix2pix(space: Workspace, site: str, task: Task) -> Path | None:
    """pix2pix for one task on one site, under the label every experiment gives it (so `tables` and
    `pathology` share the run); None, said, when no training case of the site has the task."""
    label = f"pix2pix-{site}-{metric_key(task.name)}"
    try:
        return train_central(space, label, [site], options=peer_options(space, "pix2pix", task))
    except PmmError as exc:
        space.echo(f"{label}: left out ({exc})")
        return None


def train_federated(space: Workspace, label: str, sites: list[str]) -> dict[str, Path]:
    """`pmm simulate` of `sites` for as many rounds as the centralized epochs; returns each site's model."""
    folder, state = space.runs / label, space.runs / label / "state"
    models = {site: state / site / "model.pt" for site in sites}
    if (folder / "DONE").is_file() and all(p.is_file() for p in models.values()):
        space.echo(f"{label}: reusing {folder}")
        space.timings[label] = float((folder / "DONE").read_text())
        return models
    settings = build_server_settings(folder / "federation", space.settings.epochs, len(sites), name=f"{space.name}-{label}",
                                     expected_sites=len(sites), training=space.settings.training_options(),
                                     experiment=MLFLOW_EXPERIMENT, tracking_uri=space.tracking_uri)
    space.echo(f"{label}: pmm simulate of {', '.join(sites)}, {settings.federation.rounds} rounds of 1 local epoch")
    with space.timed(label):
        status = simulate(settings, folder / "federation", [space.site_dir(s) for s in sites], state, lambda _: None)
    if not status.ok:
        raise PmmError(f"{label}: the federation stopped: {status.message}")
    (folder / "DONE").write_text(str(space.timings[label]))
    return models
