"""One experiment's settings: a TOML per experiment, its `[quick]` table overriding for CI."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pmm_core.config.validation import validation_message
from pmm_core.config.model import ModelOptions, PathologyOptions
from pmm_core.config.training import PrecisionName, TrainingOptions
from pmm_core.errors import PmmError

CONFIGS = Path(__file__).parent / "configs"
MLFLOW_EXPERIMENT = "experiments"


class ExperimentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    cases_per_site: int = Field(6, ge=3, description="phantom cases per site (split 70/10/20)")
    seed: int = 0
    epochs: int = Field(4, ge=1, description="centralized epochs; the federation runs as many rounds of 1 local epoch")
    batch_size: int = Field(4, ge=1)
    learning_rate: float = 1e-3
    precision: PrecisionName = Field("auto", description="what every variant computes in (see the training options)")
    model: ModelOptions = Field(default_factory=ModelOptions, description="the model every variant trains")
    extra: dict[str, Any] = Field(default_factory=dict, description="settings only this experiment reads")

    def training_options(self, epochs: int | None = None, **changes: Any) -> TrainingOptions:
        """The training options every variant of this experiment trains with (`changes`: a
        variant's own, e.g. mcbs=False): the paper's recipe unless a variant gives its own
        `pathology` (pmm's default oversampling and lesion weight are what `pathology` compares)."""
        changes.setdefault("pathology", PathologyOptions.paper())  # the paper's experiments train its recipe
        return TrainingOptions(epochs=epochs or self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                               num_workers=0, seed=self.seed, precision=self.precision, model=self.model, **changes)


def experiment_names() -> list[str]:
    return sorted(p.stem for p in CONFIGS.glob("*.toml"))


def load_settings(name: str, quick: bool, path: Path | None = None) -> ExperimentSettings:
    """The experiment's own TOML, or `path` (same keys: to run an experiment at another size,
    e.g. the paper's model on a GPU); its `[quick]` table applies with `quick`."""
    if not (CONFIGS / f"{name}.toml").is_file():
        raise PmmError(f"unknown experiment {name!r}; choose from {', '.join(experiment_names())}")
    path = Path(path) if path is not None else CONFIGS / f"{name}.toml"
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise PmmError(f"{path}: cannot read the settings ({exc.strerror}); pass an existing TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise PmmError(f"{path}: not valid TOML ({exc})") from None
    overrides = raw.pop("quick", {})
    if quick:
        for key, value in overrides.items():
            raw[key] = raw.get(key, {}) | value if isinstance(value, dict) and key != "model" else value
    try:
        return ExperimentSettings.model_validate(raw)
    except ValidationError as exc:
        raise PmmError(validation_message(path, exc)) from None
