"""Training options shared by the centralized trainer and the federated client.

Defaults are the paper's recipe: 200 epochs, Adam (lr 2e-4, betas (0.5, 0.999)) at a constant rate
for 50 epochs, then linearly to 0 at the end, batch 16 with MCBS.
Data options used by the slice dataset live here too because they shape what a step sees; the
model, loss weights, condition sampling and the pathology options beyond the paper are nested
tables ([model], [losses], [conditions], [pathology]).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pmm_core.config.validation import validation_message
from pmm_core.config.methods import MethodName, MMGANOptions, Pix2PixOptions
from pmm_core.config.model import ConditionOptions, LossWeights, ModelOptions, PathologyOptions
from pmm_core.config.toml_loading import load_toml_model
from pmm_core.errors import PmmError

AUGMENTATIONS = ("mirroring", "transposing")  # [pathology] keys a run saved before them trained without

# the number format a model computes in (pmm_core.training.precision resolves it per device)
PrecisionName = Literal["auto", "float32", "bfloat16", "float16"]


class TrainingOptions(BaseModel):
    """What one training run does; loaded from `--config FILE` (TOML) or left at defaults."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    epochs: int = Field(200, ge=1, description="the paper: 200")
    decay_start_epoch: int | None = Field(
        None, ge=0, description="epochs at the full rate before it falls linearly to 0 at the last epoch; "
                                "unset: a quarter of `epochs` (the paper: 50 of 200)")
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    betas: tuple[float, float] = (0.5, 0.999)
    seed: int = 0
    mcbs: bool = True
    precision: PrecisionName = Field(
        "auto", description="auto: bfloat16 autocast on CUDA (float16 with loss scaling where the GPU lacks "
                            "bfloat16) and on CPUs with native bfloat16 (AVX-512 BF16, AMX), float32 elsewhere; "
                            "float32 always computes in float32")
    channels_last: bool | None = Field(
        None, description="NHWC memory layout for the convolutions; unset: on for CUDA autocast, off on the CPU "
                          "(no reliable gain there, bench/precision_speed)")
    # bench/data_throughput: reading memory-mapped slices in the main process delivers ~1,900
    # slices/s at 192x192 on 2 CPU cores, faster than 2 workers (IPC costs more than the read)
    # and hundreds of times what a training step consumes there. Raise it on GPU machines.
    num_workers: int = Field(0, ge=0)
    min_brain_fraction: float = Field(
        0.05, ge=0, le=1, description="slices whose brain mask covers less of the crop are left out"
    )
    method: MethodName = Field("pmm-synth", description="pmm-synth (the paper's model), or a peer: pix2pix, mmgan")
    model: ModelOptions = Field(default_factory=ModelOptions)
    losses: LossWeights = Field(default_factory=LossWeights)
    conditions: ConditionOptions = Field(default_factory=ConditionOptions)
    pathology: PathologyOptions = Field(default_factory=PathologyOptions)
    pix2pix: Pix2PixOptions = Field(default_factory=Pix2PixOptions)
    mmgan: MMGANOptions = Field(default_factory=MMGANOptions)

    @model_validator(mode="before")
    @classmethod
    def _amp_is_precision(cls, data: Any) -> Any:
        """Runs and configs from before `precision` said `amp = true/false` (mixed precision on
        CUDA or not): read as `auto` or `float32`."""
        if isinstance(data, dict) and "amp" in data:
            data = dict(data)
            amp = data.pop("amp")
            data.setdefault("precision", "auto" if amp else "float32")
        return data

    @model_validator(mode="after")
    def _decay_within_training(self) -> "TrainingOptions":
        if self.decay_start_epoch is not None and self.decay_start_epoch > self.epochs:
            raise ValueError(f"decay_start_epoch ({self.decay_start_epoch}) is after the last epoch ({self.epochs}); "
                             "set it to at most epochs, or leave it unset for a quarter of epochs")
        return self

    @model_validator(mode="after")
    def _pix2pix_has_a_task(self) -> "TrainingOptions":
        if self.method == "pix2pix" and (not self.pix2pix.sources or self.pix2pix.target is None):
            raise ValueError("method pix2pix trains one task: give [pix2pix] sources and target "
                             "(or --task, e.g. 'T1->T1C')")
        return self

    @property
    def decay_start(self) -> int:
        """Epochs at the full rate: `decay_start_epoch`, or a quarter of `epochs` when unset."""
        return self.decay_start_epoch if self.decay_start_epoch is not None else self.epochs // 4


def load_training_options(path: Path | None) -> TrainingOptions:
    """Options from a TOML file, or the defaults when no file is given."""
    if path is None:
        return TrainingOptions()
    return load_toml_model(Path(path), TrainingOptions)


def options_with_overrides(config: Path | None, epochs: int | None = None, batch_size: int | None = None,
                           no_pfm: bool = False, no_mcbs: bool = False, method: str | None = None,
                           task: tuple[tuple[str, ...], str] | None = None, paper_recipe: bool = False) -> TrainingOptions:
    """The TOML's options (or the defaults) with the command line's overrides, validated again.
    `task` (sources, target) is pix2pix's; `paper_recipe` replaces `[pathology]` by the paper's."""
    options = with_paper_recipe(load_training_options(config), paper_recipe)
    updates = {k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "method": method}.items() if v is not None}
    if no_mcbs:
        updates["mcbs"] = False
    data = options.model_dump() | updates
    if no_pfm:
        data["model"] = data["model"] | {"pfm": False}
    if task is not None:
        data["pix2pix"] = data["pix2pix"] | {"sources": list(task[0]), "target": task[1]}
    checked = checked_options(data, f"{config} with the command line's options" if config else "the command line's options")
    if task is not None and checked.method != "pix2pix":
        raise PmmError(f"--task trains one task, which only --method pix2pix does (the method is {checked.method})")
    if no_pfm and checked.method != "pmm-synth":
        raise PmmError(f"--no-pfm is PMM-Synth's ablation; {checked.method} has no PFM")
    return checked


def with_paper_recipe(options: TrainingOptions, paper_recipe: bool) -> TrainingOptions:
    """`options` with the paper's `[pathology]` (no oversampling, no lesion weight) when asked."""
    return options.model_copy(update={"pathology": PathologyOptions.paper()}) if paper_recipe else options


def checked_options(data: dict, source: str) -> TrainingOptions:
    """Training options from `data`; one line naming `source` and the problem when they do not
    fit together (for example a decay start after the last of fewer epochs)."""
    try:
        return TrainingOptions.model_validate(data)
    except ValidationError as exc:
        raise PmmError(validation_message(source, exc, first_only=True)) from None


def saved_options(data: dict, source: str) -> TrainingOptions:
    """Options a checkpoint or package recorded, checked as `checked_options` does. A run saved
    before `[pathology] mirroring` or `transposing` existed trained without it: its missing key
    reads as false, not as today's default, so a resumed run goes on as it began and a model card
    says what was done."""
    return checked_options(recorded_options(data), source)


def recorded_options(data: dict) -> dict:
    """Training options as a run recorded them (JSON), with the `[pathology]` augmentations it
    predates read as false: what that run did, not today's default."""
    pathology = data.get("pathology")
    if isinstance(pathology, dict):
        return data | {"pathology": {key: False for key in AUGMENTATIONS} | pathology}
    return data
