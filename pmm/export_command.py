"""`pmm export --checkpoint C --out NAME.pmm`: a model another hospital can use, with its card."""
from __future__ import annotations

from pathlib import Path

import typer

from pmm.errors import reports_errors


@reports_errors
def export(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="A run's best.pt (or last.pt), a federated site's model.pt, or a federation's global.pt (or the server's --dir holding it)."),
    out: Path = typer.Option(..., "--out", help="The package to write, NAME.pmm (a zip); NAME.pmm.sha256 is written beside it."),
    evaluation: Path = typer.Option(None, "--evaluation", help="Folder of `pmm evaluate` tables to include and summarise in the card (default: evaluation/ beside the checkpoint, when there)."),
    licence: str = typer.Option("other", "--license", help="The weights' licence as the model card states it (an SPDX id such as cc-by-nc-4.0, or 'other'); it follows the training data's terms."),
) -> None:
    """Write one self-contained package of a trained model: weights as safetensors (no pickle: loading it runs nothing from the file), the model and method options, each site's record the model needs (dataset id, modalities, preprocessing, intensity standardization; no case ids, no paths), the training summary, the evaluation tables, and a model card (MODEL_CARD.md inside).

    Every command that takes --checkpoint takes the package; `train-central --init NAME.pmm` fine-tunes from it; `unzip -p NAME.pmm MODEL_CARD.md` prints its card.
    """
    from pmm.inference.export import export_checkpoint

    exported = export_checkpoint(checkpoint, out, evaluation, licence)
    typer.echo(f"written {exported.path} (SHA-256 {exported.sha256})")
    typer.echo(f"model card: unzip -p {exported.path} MODEL_CARD.md")
