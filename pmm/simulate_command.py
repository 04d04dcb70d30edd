"""`pmm simulate`: a whole federation on this machine, in one command."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.errors import reports_errors
from pmm.federation_options import (CONFIG, PAPER_RECIPE, EXPERIMENT, FOLDER, LOCAL_EPOCHS, PERSONAL_MODULATION, RESUME, ROUND_TIMEOUT,
                                    ROUNDS, SHARE_DISCRIMINATORS, TRACKING_URI, WAIT_TIMEOUT, report)


@reports_errors
def simulate(
    sites: str = typer.Option(..., "--sites", help="Comma-separated site names or TOML paths (prepared with `pmm prepare`)."),
    rounds: int = ROUNDS,
    local_epochs: int = LOCAL_EPOCHS,
    min_sites: int = typer.Option(None, "--min-sites", min=1, help="Sites that must answer (default: all)."),
    cache_root: Path = typer.Option(None, "--cache-dir", help="Cache root (default: $PMM_CACHE_DIR, else ./pmm_cache)."),
    state_dir: Path = typer.Option(Path("pmm_state"), "--state-dir", help="Root of the sites' state folders."),
    resume: bool = RESUME,
    folder: Path = FOLDER,
    config: Path = CONFIG,
    paper_recipe: bool = PAPER_RECIPE,
    share_discriminators: bool = SHARE_DISCRIMINATORS,
    personal_modulation: bool = PERSONAL_MODULATION,
    round_timeout: float = ROUND_TIMEOUT,
    wait_timeout: float = WAIT_TIMEOUT,
    experiment: str = EXPERIMENT,
    tracking_uri: str = TRACKING_URI,
) -> None:
    """Run the same ServerApp and ClientApps as a real federation, as local processes on 127.0.0.1 (one SuperLink, one SuperNode per site)."""
    from pmm_core.data.cache import default_cache_root
    from pmm.text_inputs import site_names
    from pmm_core.config.training import load_training_options, with_paper_recipe
    from pmm_core.data.site_caches import site_cache_dirs
    from pmm.server.settings import build_server_settings
    from pmm.simulation.simulate import simulate as run_simulate

    caches = site_cache_dirs(site_names(sites), cache_root or default_cache_root())
    settings = build_server_settings(folder, rounds, min_sites or len(caches), local_epochs=local_epochs,
                                     expected_sites=len(caches), training=with_paper_recipe(load_training_options(config),
                                                                                paper_recipe),
                                     share_discriminators=share_discriminators, personal_modulation=personal_modulation,
                                     round_timeout=round_timeout, wait_timeout=wait_timeout, resume=resume,
                                     experiment=experiment, tracking_uri=tracking_uri)
    report(run_simulate(settings, folder, caches, state_dir, typer.echo), typer.echo)
