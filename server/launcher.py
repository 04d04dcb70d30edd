"""`pmm serve`: start a SuperLink, submit pmm's Flower app to it, relay its log, stop it.

Everything lives in the federation folder: `federation.json` (what the ServerApp reads),
`app/` (the Flower app: a pyproject naming pmm's installed ServerApp and ClientApp, so the
FAB is a few hundred bytes and nodes run pmm from their own environment), `flwr_home/` (the
connection `flwr run` uses), `superlink.db`, `superlink.log`, `server.log`, `global.pt` and
`status.json`. Runtime dependency installation is off: nodes need no network.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pmm_core.errors import PmmError
from pmm.runtime.processes import ManagedProcess, check_transport, environment_tool, run_tool, split_address, wait_for_port
from pmm.server.settings import STATUS_FILE, ServerSettings, ServerStatus, read_status, write_model

APP_PYPROJECT = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "pmm-federation"
version = "1.0.0"
description = "PMM-Synth federation: pmm's ServerApp and ClientApp, run from each node's pmm install"
license = "Apache-2.0"
dependencies = []

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "pmm"

[tool.flwr.app.components]
serverapp = "pmm.server.server_app:app"
clientapp = "pmm.client.client_app:app"

[tool.flwr.app.config]
federation-dir = "{folder}"
"""


@dataclass
class TlsFiles:
    ca: Path
    certificate: Path
    key: Path

    @classmethod
    def from_folder(cls, folder: Path) -> "TlsFiles":
        files = cls(Path(folder) / "ca.pem", Path(folder) / "server.pem", Path(folder) / "server.key")
        for path in (files.ca, files.certificate, files.key):
            if not path.is_file():
                raise PmmError(f"{path}: missing; make the certificates with `pmm certs --out {folder}`")
        return files


def write_app(folder: Path, control_address: str, tls: TlsFiles | None) -> Path:
    """The Flower app folder and the `flwr` connection (FLWR_HOME) for this federation."""
    app = folder / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "pyproject.toml").write_text(APP_PYPROJECT.format(folder=folder.resolve().as_posix()))
    home = folder / "flwr_home"
    home.mkdir(exist_ok=True)
    transport = f'root-certificates = "{tls.ca.resolve().as_posix()}"' if tls else "insecure = true"
    (home / "config.toml").write_text(f'[superlink]\ndefault = "pmm"\n\n[superlink.pmm]\naddress = "{control_address}"\n'
                                      f"{transport}\n")
    return home


def superlink_argv(host: str, port: int, folder: Path, tls: TlsFiles | None, node_auth: bool) -> list[str]:
    argv = [environment_tool("flower-superlink"), "--host", host, "--port", str(port),
            "--database", str(folder / "superlink.db"), "--disable-runtime-dependency-installation"]
    argv += ["--ssl-ca-certfile", str(tls.ca), "--ssl-certfile", str(tls.certificate), "--ssl-keyfile", str(tls.key)] \
        if tls else ["--insecure"]
    return argv + (["--enable-supernode-auth"] if node_auth else [])


class SuperLink:
    """A running SuperLink for one federation folder."""

    def __init__(self, folder: Path, address: str, tls: TlsFiles | None, node_auth: bool = False,
                 echo: Callable[[str], None] | None = None):
        host, port = split_address(address)
        self.folder, self.host, self.port, self.tls = folder, host, port, tls
        control_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        self.home = write_app(folder, f"{control_host}:{port}", tls)
        self.process = ManagedProcess("flower-superlink", superlink_argv(host, port, folder, tls, node_auth),
                                      folder / "superlink.log", env={"FLWR_HOME": str(self.home)}, echo=echo)
        wait_for_port(host, port, 60.0, self.process)

    def register_nodes(self, public_keys: list[Path], echo: Callable[[str], None]) -> None:
        """Register each site's public key, so the SuperLink (with --enable-supernode-auth) admits it."""
        for key in public_keys:
            result = run_tool([environment_tool("flwr"), "supernode", "register", str(key), "pmm", "--name", key.stem],
                              env={"FLWR_HOME": str(self.home)})
            with (self.folder / "server.log").open("a") as log:
                log.write(result.stdout)
            if result.returncode != 0 and "already in use" not in result.stdout:  # a resumed SuperLink knows it
                raise PmmError(f"{key}: could not register this node key; see {self.folder / 'server.log'}")
            echo(f"registered node key {key.name}")

    def run_app(self, echo: Callable[[str], None]) -> int:
        """Submit the app and stream its log until the ServerApp ends."""
        runner = ManagedProcess("flwr run", [environment_tool("flwr"), "run", str(self.folder / "app"), "pmm", "--stream"],
                                self.folder / "server.log", env={"FLWR_HOME": str(self.home)}, echo=echo)
        try:
            return runner.wait()
        finally:  # interrupted (Ctrl-C): the log stream goes down with the SuperLink
            runner.stop(grace=5.0)

    def stop(self) -> None:
        self.process.stop()


def node_public_keys(folder: Path | None) -> list[Path]:
    if folder is None or not Path(folder).is_dir():
        raise PmmError(f"{folder}: no folder of node public keys (*.pub); `pmm certs --node SITE` makes them")
    keys = sorted(Path(folder).glob("*.pub"))
    if not keys:
        raise PmmError(f"{folder}: no *.pub node keys to register")
    return keys


def serve(settings: ServerSettings, folder: Path, address: str, tls: TlsFiles | None, insecure: bool,
          node_auth: bool, echo: Callable[[str], None], on_ready: Callable[[SuperLink], None] | None = None,
          node_keys: Path | None = None) -> ServerStatus:
    host, _ = split_address(address)
    check_transport(host, tls is not None, insecure, "--certificates DIR (see `pmm certs`)")
    keys = node_public_keys(node_keys) if node_auth else []
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if not settings.resume and (folder / "global.pt").exists():
        raise PmmError(f"{folder} holds a federation already: pass --resume to continue it, or use another --dir")
    if settings.resume and (folder / "global.pt").exists():
        from pmm_core.federated.global_state import load_global_state, resume_conflict  # torch: only here

        conflict = resume_conflict(load_global_state(folder).config, settings.federation.model_dump(mode="json"))
        if conflict:
            raise PmmError(f"--resume {folder}: {conflict}; resume with the settings it started with "
                           "(its federation.json), or start a new federation in another --dir")
    (folder / STATUS_FILE).unlink(missing_ok=True)
    write_model(settings, folder / "federation.json")
    link = SuperLink(folder, address, tls, node_auth, echo=None)
    echo(f"SuperLink listening on {address} ({'TLS' if tls else 'insecure'}); log: {folder / 'superlink.log'}")
    try:
        if keys:
            link.register_nodes(keys, echo)
        if on_ready is not None:
            on_ready(link)
        link.run_app(echo)
    finally:
        link.stop()
    status = read_status(folder)
    if status is None:
        raise PmmError(f"the ServerApp ended without a status; see {folder / 'server.log'}")
    return status
