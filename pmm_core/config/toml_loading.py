"""Read a TOML file into a pydantic model, with errors that name the file and the key; write
one back (`toml_text`), so a file pmm writes for a person to read or for a command line to take
is serialised from the typed options, never assembled by hand.

A user who mistypes `skull_strip = "yes"` must read which file and which key is wrong, in one
line, not a pydantic traceback.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

import tomli_w
from pydantic import BaseModel, ValidationError

from pmm_core.config.validation import validation_message
from pmm_core.errors import PmmError

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file is a PmmError naming it."""
    path = Path(path)
    if not path.is_file():
        raise PmmError(f"{path}: file not found")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise PmmError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise PmmError(f"{path}: cannot read: {exc.strerror}") from None


def load_toml_model(path: Path, model: type[ModelT], context: dict[str, Any] | None = None) -> ModelT:
    """Validate a TOML file against `model`; `context` reaches the model's validators."""
    data = read_toml(path)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise PmmError(validation_message(Path(path), exc)) from None


def toml_text(model: BaseModel, header: str = "") -> str:
    """The model as TOML that `load_toml_model` reads back to an equal model (unset options,
    which TOML cannot write as null, are left out and so keep their defaults)."""
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + tomli_w.dumps(model.model_dump(mode="json", exclude_none=True))
