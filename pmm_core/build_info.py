"""Which pmm made something: its installed version and, in a git checkout, the commit.

Checkpoints, exported packages, MLflow runs and the labels of synthesized images all say it, so
a result can be traced to the code that produced it.
"""
from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path


def pmm_version() -> str:
    try:
        return metadata.version("pmm")
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the checkout pmm runs from; "unknown" for an installed wheel or without git."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                                capture_output=True, text=True, timeout=5)
        return result.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def build_info() -> dict[str, str]:
    return {"version": pmm_version(), "commit": git_commit()}
