"""Long-running helper processes (Flower's SuperLink, SuperNodes, `flwr run`, the MLflow server):
started in their own process group so stopping one also stops the children it spawned (a
SuperNode starts `flower-superexec` and ClientApp processes), with their output copied line by
line to a log file and, optionally, to the terminal. Each runs under `process_guard`, which
stops its group when the pmm process that started it dies, even by SIGKILL."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pmm_core.errors import PmmError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def environment_tool(name: str) -> str:
    """An executable of this environment (beside the running Python, e.g. `flower-superlink`), else from PATH."""
    local = Path(sys.executable).parent / name
    if local.is_file():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise PmmError(f"{name} not found in this environment")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def split_address(address: str) -> tuple[str, int]:
    """'host:port' → (host, port), with a one-line error for anything else."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise PmmError(f"address {address!r}: expected HOST:PORT, e.g. 127.0.0.1:9092")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS


def check_transport(host: str, encrypted: bool, insecure: bool, tls_option: str) -> None:
    """Plain-text gRPC only on loopback, or when the user asked for it with --insecure.

    Shared by the server and the client so both refuse the same way; `tls_option` is the
    option (with its argument) that would have encrypted the traffic on that side.
    """
    if encrypted and insecure:
        raise PmmError(f"give either {tls_option.split()[0]} or --insecure, not both")
    if not encrypted and not insecure and not is_loopback(host):
        raise PmmError(f"{host} is not a loopback address: give {tls_option} "
                       "or --insecure to send unencrypted traffic on purpose")


def wait_for_port(host: str, port: int, timeout: float, process: "ManagedProcess | None" = None) -> None:
    deadline = time.monotonic() + timeout
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise PmmError(f"{process.name} exited with status {process.poll()} before listening on {port}; "
                           f"see {process.log_path}")
        try:
            with socket.create_connection((probe_host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise PmmError(f"{process.name if process else 'process'} did not listen on {host}:{port} within {timeout:.0f} s")


def tool_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment with its bin folder first on PATH: Flower's processes start further tools
    (flower-superexec, flwr-serverapp) by name, which must resolve without an activated venv."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, **(extra or {})}


def run_tool(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """A short command of this environment; output captured (stdout and stderr together)."""
    return subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=tool_environment(env), timeout=timeout)


class ManagedProcess:
    def __init__(self, name: str, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None,
                 echo: Callable[[str], None] | None = None, cwd: Path | None = None):
        self.name, self.log_path = name, Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        guarded = [sys.executable, "-m", "pmm.runtime.process_guard", str(os.getpid()), *argv]  # ends with us
        self.process = subprocess.Popen(guarded, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        bufsize=1, env=tool_environment(env), cwd=cwd, start_new_session=True)
        self._copier = threading.Thread(target=self._copy, args=(echo,), daemon=True)
        self._copier.start()

    def _copy(self, echo: Callable[[str], None] | None) -> None:
        with self.log_path.open("a") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                if echo is not None:
                    echo(line.rstrip("\n"))

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float | None = None) -> int:
        code = self.process.wait(timeout)
        self._copier.join(timeout=5)
        return code

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the whole group, SIGKILL after `grace` seconds."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # children that outlived their parent (same group) get the same treatment
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._copier.join(timeout=5)
