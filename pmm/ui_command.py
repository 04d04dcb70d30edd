"""`pmm ui`: open the MLflow UI on the project's tracking store."""
from __future__ import annotations

import typer

from pmm.errors import reports_errors


@reports_errors
def ui(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; 0.0.0.0 exposes the UI to the network."),
    port: int = typer.Option(5000, "--port", min=1, max=65535, help="Port to listen on."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlflow.db)."),
) -> None:
    """Serve the MLflow UI (one worker, job execution off) to compare centralized and federated runs side by side."""
    from pmm.tracking.ui import serve_ui

    serve_ui(host, port, tracking_uri, echo=typer.echo)
