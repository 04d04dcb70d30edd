"""`pmm certs --out DIR`: TLS certificates and node keys for a federation."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.errors import reports_errors


@reports_errors
def certs(
    out: Path = typer.Option(..., "--out", help="Folder for ca.pem, server.pem/key and nodes/<SITE>.key/.pub."),
    host: list[str] = typer.Option([], "--host", help="An address sites dial (DNS name or IP); repeat for several."),
    node: list[str] = typer.Option([], "--node", help="A site that gets an authentication key pair; repeat for several."),
) -> None:
    """Make a private CA, a server certificate for --host, and one SuperNode key pair per --node.

    Give `ca.pem` and `nodes/SITE.key` to each site (`pmm client --root-certificates ca.pem --key SITE.key`); start the server with `pmm serve --certificates DIR [--require-node-auth]`.
    """
    from pmm.server.certificates import make_certificates

    written = make_certificates(out, list(host), list(node))
    for path in written:
        typer.echo(f"wrote {path}")
