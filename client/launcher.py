"""`pmm client`: one hospital's SuperNode.

It resolves the site's TOML and prepared cache here (so a wrong site fails at once, not in a
round), then starts `flower-supernode` with the site, cache and state folder as node config.
The SuperNode's output goes to `<state-dir>/<SITE>/supernode.log` and the terminal; the rounds
themselves are logged to `<state-dir>/<SITE>/client.log` by the ClientApp.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.errors import PmmError
from pmm.runtime.processes import ManagedProcess, check_transport, environment_tool, free_port, split_address


def node_config(site: str, cache: Path, state: Path, device: str, threads: int = 0) -> str:
    """Flower's node config: space-separated key=TOML-value pairs (threads 0: torch's default)."""
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    pairs = (("site", site), ("cache", str(cache)), ("state", str(state)), ("device", device))
    return " ".join(f"{k}={quoted(v)}" for k, v in pairs) + f" threads={int(threads)}"


def supernode_argv(server: str, site: str, cache: Path, state: Path, root_certificates: Path | None, insecure: bool,
                   key: Path | None, port: int, device: str, threads: int = 0) -> list[str]:
    host, _ = split_address(server)
    check_transport(host, root_certificates is not None, insecure, "--root-certificates ca.pem (the federation's CA)")
    argv = [environment_tool("flower-supernode"), "--superlink", server, "--port", str(port),
            "--node-config", node_config(site, cache, state, device, threads)]
    if root_certificates is not None:
        if not Path(root_certificates).is_file():
            raise PmmError(f"{root_certificates}: CA certificate not found")
        argv += ["--root-certificates", str(root_certificates)]
    else:
        argv += ["--insecure"]
    if key is not None:
        if not Path(key).is_file():
            raise PmmError(f"{key}: node private key not found")
        argv += ["--auth-supernode-private-key", str(key)]
    return argv


def start_supernode(site_dir: Path, server: str, state_dir: Path, root_certificates: Path | None, insecure: bool,
                    key: Path | None = None, device: str = "cpu", port: int | None = None,
                    echo: Callable[[str], None] | None = None, threads: int = 0) -> ManagedProcess:
    fingerprint = load_fingerprint(site_dir)  # a one-line error when the site is not prepared
    site = fingerprint.site
    state_dir = Path(state_dir).resolve()
    argv = supernode_argv(server, site, Path(site_dir).resolve(), state_dir, root_certificates, insecure, key,
                          port or free_port(), device, threads)
    return ManagedProcess(f"supernode {site}", argv, state_dir / site / "supernode.log", echo=echo)


RESTART_DELAY_S = 5.0


def restart_supernode_until_stopped(start: Callable[[], ManagedProcess], site: str, server: str, state_dir: Path,
                                    echo: Callable[[str], None], delay: float = RESTART_DELAY_S) -> None:
    """Keep the site's node up until Ctrl-C. A SuperNode exits when the SuperLink turns it away
    (e.g. its key is not registered yet, or the server restarted with authentication); it is
    started again after `delay` seconds, so a hospital's node rejoins without an operator."""
    echo(f"SuperNode for {site} connecting to {server}; logs in {state_dir / site}")
    while True:
        node = start()
        try:
            code = node.wait()
        except KeyboardInterrupt:
            node.stop()
            raise
        echo(f"SuperNode for {site} exited with status {code} (see {node.log_path}); starting it again in {delay:.0f} s")
        time.sleep(delay)
