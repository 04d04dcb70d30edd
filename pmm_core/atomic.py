"""Atomic writes: a file, a folder (a DICOM series) or a link is made under a temporary name
beside its destination, then renamed.

A crash or a kill mid-write leaves the old file (or nothing), never half a file: a user's
input or an earlier result is never replaced by a broken one.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


@contextmanager
def atomic_destination(path: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 would hide a result from its group
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """`text` into `path` through a temporary beside it: a reader sees the old file or the new one."""
    with atomic_destination(path, Path(path).suffix) as temporary:
        temporary.write_text(text)


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; it replaces `path` (and whatever was there) when the
    block succeeds, and is removed when it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".tmp-{path.name}-"))
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~_umask())
        # The old folder is renamed away, the new one renamed in, and only then is the old one
        # deleted: a reader (or a kill) never meets a half-deleted folder at `path`.
        old = None
        if path.is_dir() and not path.is_symlink():
            old = path.with_name(f".tmp-{path.name}-old-{os.getpid()}")
            os.rename(path, old)
        elif path.exists() or path.is_symlink():
            path.unlink()
        os.rename(temporary, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def link_file(source: Path, destination: Path, copy: bool = False) -> None:
    """`destination` becomes a symbolic link to `source` (absolute), or a copy of it; replaced
    atomically, and left alone when it already is that link (or a copy of the same size and time)."""
    source, destination = Path(source).resolve(), Path(destination)
    if destination.is_symlink() and not copy and Path(os.readlink(destination)) == source:
        return
    if copy and destination.is_file() and not destination.is_symlink():
        mine, theirs = destination.stat(), source.stat()
        if (mine.st_size, int(mine.st_mtime)) == (theirs.st_size, int(theirs.st_mtime)):
            return
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".tmp-{destination.name}-{os.getpid()}")
    temporary.unlink(missing_ok=True)
    if copy:
        shutil.copy2(source, temporary)
    else:
        os.symlink(source, temporary)
    os.replace(temporary, destination)
