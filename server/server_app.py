"""The Flower ServerApp that `pmm serve` and `pmm simulate` submit. It only reads the settings
file named in the run config and hands over to server.federation."""
from __future__ import annotations

from pathlib import Path

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from pmm.server.federation import run_federation
from pmm.server.settings import read_settings

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    folder = Path(str(context.run_config["federation-dir"]))
    run_federation(grid, folder, read_settings(folder))
