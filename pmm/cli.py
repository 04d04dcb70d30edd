"""The typer app `pmm`. Each capability registers its command here; the work is in pmm_core."""
from __future__ import annotations

import signal

import typer

from pmm.certs_command import certs
from pmm.client_command import client
from pmm.complete_command import complete
from pmm.demo_command import demo
from pmm.evaluate_command import evaluate
from pmm.export_command import export
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
app.command("complete")(complete)
app.command("export")(export)
app.command("ui")(ui)
app.command("serve")(serve)
app.command("client")(client)
app.command("simulate")(simulate)
app.command("certs")(certs)
app.command("experiment")(experiment)


def _stop_on_sigterm(signum, frame) -> None:  # noqa: ARG001
    """SIGTERM (a service manager, `kill`, a test) stops pmm like Ctrl-C: cleanup blocks run and
    the SuperLink or SuperNode it started is stopped with it, instead of being orphaned."""
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    app()


if __name__ == "__main__":
    main()
