"""One way to turn a pydantic ValidationError into the one line a user reads: the source (a
file, a checkpoint, "federation options"), then each bad key and what is wrong with it."""
from __future__ import annotations

from pydantic import ValidationError


def validation_message(source: object, exc: ValidationError, first_only: bool = False, hint: str = "") -> str:
    """`SOURCE: key 'a.b': message; key 'c': message[; hint]` (only the first key with `first_only`)."""
    errors = exc.errors()[:1] if first_only else exc.errors()
    parts = [(f"key '{'.'.join(map(str, error['loc']))}': " if error["loc"] else "")  # a whole-model check: no key
             + error["msg"].removeprefix("Value error, ") for error in errors]
    return f"{source}: " + "; ".join(parts) + (f"; {hint}" if hint else "")
