"""Turn user errors into one line on stderr and a non-zero exit: a user should see what to fix, not a traceback."""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import typer

from pmm_core.errors import PmmError

F = TypeVar("F", bound=Callable[..., Any])

USER_ERROR_EXIT = 2


def reports_errors(command: F) -> F:
    """Decorator for CLI commands: a PmmError prints `pmm: error: …` and exits 2, no traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PmmError as exc:
            typer.echo(f"pmm: error: {exc}", err=True)
            raise typer.Exit(USER_ERROR_EXIT) from None
        except KeyboardInterrupt:
            typer.echo("pmm: interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
