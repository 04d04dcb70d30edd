"""Read a TOML file into a pydantic model, with errors that name the file and the key.

A user who mistypes `skull_strip = "yes"` must read which file and which key is wrong, in one
line, not a pydantic traceback.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

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


def describe_validation_error(path: Path, exc: ValidationError) -> str:
    """One line listing every bad key as `key.sub: message`."""
    parts = []
    for error in exc.errors():
        key = ".".join(str(item) for item in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"key '{key}': {message}")
    return f"{path}: " + "; ".join(parts)


def load_toml_model(path: Path, model: type[ModelT], context: dict[str, Any] | None = None) -> ModelT:
    """Validate a TOML file against `model`; `context` reaches the model's validators."""
    data = read_toml(path)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise PmmError(describe_validation_error(Path(path), exc)) from None
