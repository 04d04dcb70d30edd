"""`pmm ui`: the MLflow UI on pmm's tracking store, lean (one worker, job execution off),
bound to 127.0.0.1 unless told otherwise. The process becomes the MLflow server, so Ctrl-C or
SIGTERM stops it cleanly."""
from __future__ import annotations

import os
import socket
import sys

from pmm_core.errors import PmmError
from pmm.tracking.mlflow_tracking import resolve_tracking_uri


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PmmError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port") from None


def ui_command(host: str, port: int, tracking_uri: str | None) -> list[str]:
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", resolve_tracking_uri(tracking_uri),
            "--host", host, "--port", str(port), "--workers", "1"]


def serve_ui(host: str, port: int, tracking_uri: str | None, echo=print) -> None:
    check_port_free(host, port)
    command = ui_command(host, port, tracking_uri)
    environment = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", MLFLOW_DISABLE_TELEMETRY="true")
    echo(f"MLflow UI on http://{host}:{port} for {resolve_tracking_uri(tracking_uri)} (Ctrl-C stops it)")
    sys.stdout.flush()
    os.execve(sys.executable, command, environment)
