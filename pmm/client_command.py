"""`pmm client --site TTG`: one hospital's node in a federation."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.errors import reports_errors


@reports_errors
def client(
    site: str = typer.Option(..., "--site", help="Site name or TOML path (prepared with `pmm prepare`)."),
    server: str = typer.Option("127.0.0.1:9092", "--server", help="HOST:PORT of the federation's SuperLink."),
    root_certificates: Path = typer.Option(None, "--root-certificates", help="The federation's CA certificate (ca.pem) for TLS."),
    insecure: bool = typer.Option(False, "--insecure", help="No TLS to a non-loopback server (unencrypted; on purpose only)."),
    key: Path = typer.Option(None, "--key", help="This node's private key, when the server requires node authentication."),
    cache_root: Path = typer.Option(None, "--cache-dir", help="Cache root (default: $PMM_CACHE_DIR, else ./pmm_cache)."),
    state_dir: Path = typer.Option(Path("pmm_state"), "--state-dir", help="Where this site keeps its embedding and optimizer state between rounds and federations."),
    device: str = typer.Option("cpu", "--device", help="Device for local training (cpu, cuda)."),
    personalize_only: bool = typer.Option(False, "--personalize-only", help="A site that joins after training: fit only its personal parameters against the frozen global model (--global-model); no server needed."),
    global_model: str = typer.Option(None, "--global-model", help="For --personalize-only: the federation's global.pt (from the server's --dir), or an exported package (NAME.pmm, or models:/NAME/VERSION from the MLflow registry at $MLFLOW_TRACKING_URI, else ./mlflow.db)."),
    epochs: int = typer.Option(5, "--epochs", min=1, help="Epochs for --personalize-only."),
) -> None:
    """Join a federation: train on this site's own images each round and send back only the shared network.

    The site's dataset embedding (and, by default, its discriminators) never leave --state-dir/SITE. Logs: --state-dir/SITE/client.log and supernode.log.
    """
    from pmm.client.launcher import restart_supernode_until_stopped, start_supernode
    from pmm_core.data.cache import default_cache_root
    from pmm_core.data.site_caches import site_cache_dirs

    (cache,) = site_cache_dirs([site], cache_root or default_cache_root())
    if personalize_only:
        from pmm.client.personalize import personalize

        personalize(cache, global_model, state_dir, epochs, device, typer.echo)
        return
    restart_supernode_until_stopped(lambda: start_supernode(cache, server, state_dir, root_certificates, insecure, key,
                                                            device, echo=typer.echo),
                                    cache.name, server, Path(state_dir), typer.echo)
