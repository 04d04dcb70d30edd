"""`pmm train-central --init NAME.pmm`: fine-tuning from an exported package instead of a random
initialisation, the paper's personalization for a hospital with a model from elsewhere.

The package fixes the architecture (its model options and method); the run's own options set
everything else (epochs, rate, recipe). A site the package never saw gets its own dataset
embedding from its dataset id, as every site does. Where the run started is recorded in its
checkpoints, its MLflow run and the package it exports in turn.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from pmm.inference.model_source import model_file
from pmm.inference.package import TRAINING_ONLY, load_weights, read_package
from pmm_core.config.training import TrainingOptions, checked_options, saved_options
from pmm_core.errors import PmmError


ARCHITECTURE_TABLES = ("model", "pix2pix", "mmgan")  # what the weights' shapes follow from


@dataclass(frozen=True)
class StartingPoint:
    weights: dict[str, torch.Tensor]
    options: TrainingOptions   # the package's: its model options are the run's
    kind: str                  # "trained", or "federated-global" (the shared network alone)
    origin: dict[str, str]     # name, SHA-256 and what the user named

    @classmethod
    def load(cls, source: str | Path, tracking_uri: str | None = None) -> "StartingPoint":
        path, uri = model_file(source, tracking_uri)
        package = read_package(path)
        options = saved_options(package.manifest.options, f"{path} (written by another version of pmm?)")
        return cls(package.weights, options, package.manifest.kind,
                   {"name": package.manifest.name, "sha256": package.sha256, "source": uri or str(Path(path).resolve())})

    def applied_to(self, options: TrainingOptions, method: str | None = None) -> TrainingOptions:
        """The run's options with the package's architecture (model, method and the method's own
        table); one line when `method` was asked for and the package is another."""
        if method is not None and method != self.options.method:
            raise PmmError(f"--init {self.origin['source']}: a {self.options.method} model cannot start a "
                           f"{method} run; drop --method or pick a {method} package")
        kept = {key: getattr(self.options, key).model_dump(mode="json") for key in ARCHITECTURE_TABLES}
        return checked_options(options.model_dump(mode="json") | kept | {"method": self.options.method},
                               f"--init {self.origin['source']}")

    def load_into(self, model: torch.nn.Module) -> None:
        """The package's weights into `model`. What it does not carry starts fresh: the
        discriminators, and for a federation's shared network every personal part, as at a new
        federated site."""
        load_weights(model, self.weights, f"--init {self.origin['source']}",
                     may_lack=() if self.kind == "federated-global" else TRAINING_ONLY)
