"""Text a user types that the library takes typed: the CLI turns it into lists here."""
from __future__ import annotations

from pmm_core.errors import PmmError


def site_names(text: str | None, flag: str = "--sites") -> list[str]:
    """'TTG, BraTS' → ['TTG', 'BraTS'] (names or TOML paths); a clear error when none is given."""
    names = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not names:
        raise PmmError(f"{flag} is empty: give one or more site names or TOML paths, comma-separated")
    return names
