"""`pmm` commands run as real processes forked from one that has already imported pmm's heavy
dependencies, so that a test does not pay for importing them again in every command.

Why: the suite runs about 117 `pmm` commands, and each spent up to 5.5 CPU s importing torch,
MONAI, MLflow and the rest before it did anything: 371 CPU s in those commands per run, 262 when
forked (each process's own CPU, logged at its exit, over a whole `pytest -n 3` run on two cores).
A fork of a process that only imported them skips that, and is still a process of its own, as
under `subprocess.run`: its own exit code, stdout and stderr descriptors (which its own children
inherit), environment, working directory, `__main__` (the `pmm` console script, so that
multiprocessing's spawned workers start as they do for a user) and interpreter exit (atexit
handlers run, buffers are flushed, modules are torn down: 0.4 s of the 0.7 s a forked `pmm --help`
takes, against 0.16 s cold; a command that imports torch or MLflow gains 2-5 s). The Python-level state is that of a fresh process that ran
the same imports: the fork server never runs a command itself, starts no thread (it refuses to
fork if an import started one) and its random generators are re-seeded in each child by Python
(`random`) or seeded by the command (numpy, torch), as in a fresh process.

What it does not cover, a cold interpreter start and the console script's own lines, the tests
that start `pmm` with subprocess still do (Flower's services, the UI, `bench/startup_time`).
Flower itself is not imported before the fork: gRPC's threads do not survive one.

One server per pytest worker, started on first use; requests are one JSON line each on its stdin,
answered by a line with the child's pid and one with its wait status.
"""
from __future__ import annotations

import atexit
import gc
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# what `pmm train-central`, `evaluate`, `synthesize` and `experiment` import (their sys.modules at
# exit), heaviest first: 5.5 CPU s together, of which torch 1.3-1.7, MONAI 1.7, MLflow 1.2-1.5 and
# its SQL store 0.8; pmm's own modules last. Flower stays out (see above).
PRELOADED = ("torch", "mlflow", "mlflow.store.tracking.sqlalchemy_store", "mlflow.pytorch", "monai.networks.nets",
             "SimpleITK", "nibabel", "pydicom", "scipy.ndimage", "pandas", "matplotlib", "skimage.metrics",
             "PIL.Image", "pmm.cli", "pmm.experiments.segmentation", "pmm.experiments.tables",
             "pmm.centralized.run_central", "pmm.inference.synthesize", "pmm.tracking.mlflow_tracking")


def warm_up() -> None:
    """What the commands load on first use rather than at import, loaded the same way: torch loads
    its compiler (torch._dynamo, 1.2 CPU s) at an optimizer's first use, and scikit-image its SSIM
    module at first access (skimage.metrics is lazy)."""
    import torch
    from skimage.metrics import structural_similarity  # noqa: F401

    torch.optim.Adam([torch.zeros(1, requires_grad=True)]).step()


def serve() -> None:
    """The fork server's loop. In a child, the request's command runs and its SystemExit ends the
    process through the interpreter's normal exit; this function never returns there."""
    import importlib

    for name in PRELOADED:
        importlib.import_module(name)
    warm_up()
    if threading.active_count() != 1:  # a fork would lose those threads and any lock they hold
        raise RuntimeError(f"a preloaded import started threads: {threading.enumerate()}")
    if "grpc" in sys.modules:
        raise RuntimeError("a preloaded import pulled in gRPC, whose state does not survive a fork")
    # the imported objects out of the collector's sight: otherwise each child's first collections
    # touch every one of them and copy the server's whole heap (measured on a command that fails
    # its first check: 2.1 CPU s without the freeze, 0.5 s with it; 0.4 s of the difference while
    # it runs, the rest at exit)
    gc.freeze()
    channel_in, channel_out = sys.stdin, sys.stdout
    channel_out.write("ready\n")
    channel_out.flush()
    for line in channel_in:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _become_command(request)  # raises SystemExit: the child ends there
        channel_out.write(json.dumps({"pid": pid}) + "\n")
        channel_out.flush()
        _, status = os.waitpid(pid, 0)
        channel_out.write(json.dumps({"status": status}) + "\n")
        channel_out.flush()


def _become_command(request: dict) -> None:
    """In the forked child: the request's descriptors, environment, folder and argv, then the
    console script's own body."""
    import types

    stdin = os.open(os.devnull, os.O_RDONLY)
    stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    stderr = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for source, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(source, target)
        os.close(source)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    script = types.ModuleType("__main__")
    script.__file__ = request["argv"][0]
    sys.modules["__main__"] = script
    sys.argv = list(request["argv"])
    from pmm.cli import main

    sys.exit(main())


class _Server:
    """The pytest worker's handle on its fork server."""

    def __init__(self, script: str) -> None:
        # sys.path as the console script's process has it: its own folder first (not the working
        # folder, which `-c` would put there), the tests folder not at all
        bootstrap = ("import importlib.util, sys; sys.path[0] = {folder!r}; "
                     "spec = importlib.util.spec_from_file_location('pmm_processes', {path!r}); "
                     "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); module.serve()")
        self.process = subprocess.Popen(
            [sys.executable, "-c", bootstrap.format(folder=str(Path(script).parent), path=__file__)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.pending = b""
        self.lock = threading.Lock()
        if self._line(timeout=300) != "ready":
            raise RuntimeError("the pmm fork server did not start")

    def _line(self, timeout: float) -> str:
        """The server's next line. Read from the descriptor, not a buffered file: a buffered
        readline could take both of a quick command's lines at once and leave select waiting."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise subprocess.TimeoutExpired("pmm fork server", timeout)
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"the pmm fork server ended (exit {self.process.wait()})")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode()

    def run(self, argv: list[str], cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
        with self.lock, tempfile.TemporaryDirectory(prefix="pmm-run-") as folder:
            out, err = Path(folder) / "stdout", Path(folder) / "stderr"
            self.process.stdin.write(json.dumps({"argv": argv, "cwd": str(cwd), "env": env,
                                                 "stdout": str(out), "stderr": str(err)}) + "\n")
            pid = json.loads(self._line(timeout=60))["pid"]
            try:
                status = json.loads(self._line(timeout=timeout))["status"]
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)  # as subprocess.run does on a timeout; the server reaps it
                self._line(timeout=60)
                raise subprocess.TimeoutExpired(argv, timeout, out.read_text(errors="replace"),
                                                err.read_text(errors="replace")) from None
            return subprocess.CompletedProcess(argv, os.waitstatus_to_exitcode(status),
                                               out.read_text(errors="replace"), err.read_text(errors="replace"))

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


_server: _Server | None = None


def run_forked(argv: list[str], cwd: Path | None, env: dict, timeout: float) -> subprocess.CompletedProcess:
    """`subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)`
    for a `pmm` command (argv[0] the console script), in a process forked from the server."""
    global _server
    if _server is None:
        _server = _Server(argv[0])
        atexit.register(_server.close)
    return _server.run(argv, Path(cwd or os.getcwd()), env, timeout)
