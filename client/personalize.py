"""`pmm client --site NEW --personalize-only`: continual adaptation of a site that joins after the
federation trained (the paper's future work). The global shared network stays frozen; the new
site fits only what it keeps (its embedding, its discriminators, and modulation when personal)
on its own images, and keeps the result in its state folder like any federated site."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from pmm_core.config.federation import FederationOptions
from pmm_core.config.validation import validation_message
from pmm_core.errors import PmmError
from pmm_core.federated.global_state import load_global_state
from pmm_core.federated.local_round import LocalRoundSpec, run_local_round


def personalize(site_dir: Path, global_model: Path | None, state_dir: Path, epochs: int, device: str,
                echo: Callable[[str], None]) -> dict[str, float]:
    if global_model is None:
        raise PmmError("--personalize-only needs --global-model: the global.pt in the federation server's --dir")
    path = Path(global_model)
    if path.is_file() and path.name != "global.pt":
        raise PmmError(f"--global-model {path}: give the federation's global.pt (or the server's --dir holding it), "
                       "not a site's model.pt or a run's checkpoint")
    state = load_global_state(path.parent if path.name == "global.pt" else path)
    try:
        options = FederationOptions.model_validate(state.config)
    except ValidationError as exc:  # saved by another version of pmm
        raise PmmError(validation_message(path, exc, hint="written by another version of pmm?")) from None
    spec = LocalRoundSpec(site_dir=site_dir, state_dir=state_dir, options=options.training, partition=options.partition,
                          local_epochs=epochs, round_label=f"personalize:{state.round}", personalize_only=True,
                          device=device)
    result = run_local_round(spec, state.shared, echo=echo)
    for key, value in sorted(result.metrics.items()):
        if key.startswith("val/"):
            echo(f"  {key}: {value:.4f}")
    return result.metrics
