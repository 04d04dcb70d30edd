"""The typer app `pmm`. Each capability registers its command here; the work is in pmm_core."""
from __future__ import annotations

import typer

from pmm.certs_command import certs
from pmm.client_command import client
from pmm.demo_command import demo
from pmm.evaluate_command import evaluate
from pmm.experiment_command import experiment
from pmm.phantom_command import phantom
from pmm.prepare_command import prepare
from pmm.serve_command import serve
from pmm.simulate_command import simulate
from pmm.synthesize_command import synthesize
from pmm.train_command import train_central
from pmm.ui_command import ui

app = typer.Typer(
    name="pmm",
    help="Personalized multi-modal brain-MRI synthesis (PMM-Synth), centralized and federated.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """Personalized multi-modal brain-MRI synthesis (PMM-Synth), centralized and federated."""


app.command("demo")(demo)
app.command("phantom")(phantom)
app.command("prepare")(prepare)
app.command("train-central")(train_central)
app.command("evaluate")(evaluate)
app.command("synthesize")(synthesize)
app.command("ui")(ui)
app.command("serve")(serve)
app.command("client")(client)
app.command("simulate")(simulate)
app.command("certs")(certs)
app.command("experiment")(experiment)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
