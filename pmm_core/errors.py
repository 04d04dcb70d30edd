"""One exception type for mistakes a user can fix.

The CLI turns a `PmmError` into one line on stderr and a non-zero exit, never a traceback, so
every message must name the file or value at fault and say what to do.
"""
from __future__ import annotations


class PmmError(Exception):
    """A user-fixable error: bad input file, bad config value, missing data."""


class CaseError(PmmError):
    """One case cannot be read or preprocessed; the rest of its site can still go on."""
