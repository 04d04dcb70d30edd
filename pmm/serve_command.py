"""`pmm serve`: the federation's server (SuperLink + ServerApp)."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.errors import reports_errors
from pmm.federation_options import (CONFIG, PAPER_RECIPE, EXPERIMENT, FOLDER, LOCAL_EPOCHS, PERSONAL_MODULATION, RESUME, ROUND_TIMEOUT,
                                    ROUNDS, SHARE_DISCRIMINATORS, TRACKING_URI, WAIT_TIMEOUT, report)


@reports_errors
def serve(
    rounds: int = ROUNDS,
    local_epochs: int = LOCAL_EPOCHS,
    min_sites: int = typer.Option(2, "--min-sites", min=1, help="Sites that must answer for a round to count."),
    expected_sites: int = typer.Option(None, "--expected-sites", min=1, help="Before round 1, wait (up to --wait-timeout) for this many sites."),
    address: str = typer.Option("127.0.0.1:9092", "--address", help="HOST:PORT the SuperLink listens on (0.0.0.0:9092 for other machines)."),
    certificates: Path = typer.Option(None, "--certificates", help="Folder with ca.pem, server.pem, server.key (see `pmm certs`)."),
    insecure: bool = typer.Option(False, "--insecure", help="No TLS on a non-loopback address (unencrypted; on purpose only)."),
    require_node_auth: bool = typer.Option(False, "--require-node-auth", help="Admit only SuperNodes whose public key is in --node-keys."),
    node_keys: Path = typer.Option(None, "--node-keys", help="Folder of the sites' *.pub keys (default: CERTIFICATES/nodes)."),
    resume: bool = RESUME,
    folder: Path = FOLDER,
    name: str = typer.Option(None, "--name", help="Federation name in MLflow and site histories (default: the folder's name)."),
    config: Path = CONFIG,
    paper_recipe: bool = PAPER_RECIPE,
    share_discriminators: bool = SHARE_DISCRIMINATORS,
    personal_modulation: bool = PERSONAL_MODULATION,
    round_timeout: float = ROUND_TIMEOUT,
    wait_timeout: float = WAIT_TIMEOUT,
    experiment: str = EXPERIMENT,
    tracking_uri: str = TRACKING_URI,
    register: str = typer.Option(None, "--register", help="When the federation finishes, export its shared network as a package (DIR/NAME.pmm) and register it in the MLflow Model Registry as a new version of NAME (sites personalize it with `pmm client --personalize-only --global-model models:/NAME/latest`)."),
) -> None:
    """Run the federation server: FedAvg of the shared network, weighted by each site's training slices.

    Sites join with `pmm client --site NAME --server HOST:PORT`. The global state is saved after every round in --dir; `--resume` continues after a crash. The learning-rate schedule spans rounds x local epochs and the server tells each site where a round starts on it, so a site's state folder can serve any number of federations. Any non-loopback address needs --certificates (or an explicit --insecure).
    """
    from pmm.server.launcher import TlsFiles, serve as run_serve
    from pmm_core.config.training import load_training_options, with_paper_recipe
    from pmm.server.settings import build_server_settings

    settings = build_server_settings(folder, rounds, min_sites, name=name, local_epochs=local_epochs,
                                     expected_sites=expected_sites, training=with_paper_recipe(load_training_options(config),
                                                                                paper_recipe),
                                     share_discriminators=share_discriminators, personal_modulation=personal_modulation,
                                     round_timeout=round_timeout, wait_timeout=wait_timeout, resume=resume,
                                     experiment=experiment, tracking_uri=tracking_uri, register=register)
    tls = TlsFiles.from_folder(certificates) if certificates else None
    if require_node_auth and node_keys is None and certificates is not None:
        node_keys = certificates / "nodes"
    report(run_serve(settings, folder, address, tls, insecure, require_node_auth, typer.echo, node_keys=node_keys),
           typer.echo)
