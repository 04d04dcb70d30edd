"""Atomic file writes: write to a temporary file beside the destination, then rename.

A crash or a kill mid-write leaves the old file (or nothing), never half a file: a user's
input or an earlier result is never replaced by a broken one.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_destination(path: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
