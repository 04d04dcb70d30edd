"""`pmm simulate`: the same ServerApp and ClientApp on one machine, in one command.

Engine: a loopback deployment (one SuperLink and one SuperNode per site, as local processes on
127.0.0.1), not Flower's Ray simulation engine. The loopback path is exactly what hospitals run
(same node config, TLS and auth options, state folders and messages), needs nothing beyond flwr
itself, and lets a benchmark count real bytes; Ray nodes only get a `partition-id`, not a site.
Measured here with a no-op app (2 nodes, 2 rounds): loopback 23.7-29.1 s, Ray 13.2-15.6 s; Ray
saves 5-9 s a round, negligible against pmm's local epochs, and is not worth its dependency.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pmm.client.launcher import start_supernode
from pmm.runtime.processes import ManagedProcess, free_port
from pmm.server.launcher import SuperLink, serve
from pmm.server.settings import ServerSettings, ServerStatus


def simulate(settings: ServerSettings, folder: Path, site_caches: list[Path], state_dir: Path,
             echo: Callable[[str], None], device: str = "cpu") -> ServerStatus:
    nodes: list[ManagedProcess] = []
    # the sites share this machine's cores: without a share each, torch threads oversubscribe them
    threads = max(1, (os.cpu_count() or 1) // max(len(site_caches), 1))

    def start_nodes(link: SuperLink) -> None:
        for cache in site_caches:
            node = start_supernode(cache, f"127.0.0.1:{link.port}", state_dir, None, True, device=device, threads=threads)
            nodes.append(node)
            echo(f"SuperNode {node.name.split()[-1]} started; log: {node.log_path}")

    try:
        return serve(settings, folder, f"127.0.0.1:{free_port()}", None, False, False, echo, on_ready=start_nodes)
    finally:
        for node in nodes:
            node.stop()
