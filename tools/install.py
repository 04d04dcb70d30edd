"""Install pmm and its test tools into this virtual environment, fast: with uv where it can stand
in for pip, else with pip.

`make` runs this once per change of pyproject.toml. pip takes about 2 min to install the pinned
stack (torch, MLflow, Flower, MONAI...), uv under 50 s (it downloads, unpacks and compiles in
parallel): over a minute of CI's 10-minute budget for `make test` from a clean clone.

uv does not read pip's configuration, so the settings that choose what gets installed (indexes,
find-links, constraints, the certificate) are read from pip itself (`pip config list`, which
includes PIP_* variables) and handed to uv with pip's semantics: all indexes searched together
(`--index-strategy unsafe-best-match`). Any other such setting, uv missing from the registries
or uv failing for any reason means pip does the install, as before.

uv compiles the bytecode, as pip does. Where PYTHONDONTWRITEBYTECODE is set (as on the machines
pmm is tested on) nothing else ever writes it, and every `pmm` or Flower process compiled torch,
MLflow and Flower from source: `import torch, mlflow, flwr` took 12.4 s against 6.6 s, and the
test suite 21.5 min against 13.

Usage: python tools/install.py  (with the virtual environment's python)
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EDITABLE = ["-e", f"{ROOT}[dev]"]
UV_VERSION = "uv>=0.9,<1"

# pip settings that are lists of values, and the uv option that takes each value
REPEATED = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
            "constraint": "--constraint"}

# pip settings that only shape pip's own output or network waits: no counterpart needed
HARMLESS = {"default-timeout", "timeout", "disable-pip-version-check", "quiet", "verbose", "progress-bar",
            "no-color", "retries", "cache-dir", "no-cache-dir", "root-user-action"}


def pip_settings() -> dict[str, str]:
    """pip's effective settings (files and PIP_* variables), key without its section → value."""
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                            check=True).stdout
    settings: dict[str, str] = {}
    for line in listed.splitlines():
        name, _, value = line.partition("=")
        key = name.rsplit(".", 1)[-1]
        settings[key] = value.strip().strip("'\"")  # env values come last and win, as in pip
    return settings


def uv_arguments(settings: dict[str, str]) -> tuple[list[str], dict[str, str]] | None:
    """uv's options and environment equivalent to pip's settings, or None when one has no equivalent."""
    arguments, env = ["--index-strategy", "unsafe-best-match"], {}
    for key, value in settings.items():
        values = shlex.split(value)
        if key in REPEATED:
            arguments += [item for one in values for item in (REPEATED[key], one)]
        elif key == "cert":
            env["SSL_CERT_FILE"] = values[0]
        elif key == "no-index" and value.lower() in ("1", "true", "yes", "on"):
            arguments.append("--no-index")
        elif key not in HARMLESS:
            print(f"install: pip setting {key!r} has no uv equivalent here; installing with pip", file=sys.stderr)
            return None
    return arguments, env


def install_with_uv() -> bool:
    """True when uv installed everything; False (having said why) when pip should."""
    translated = uv_arguments(pip_settings())
    if translated is None:
        return False
    arguments, env = translated
    fetched = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", UV_VERSION])
    if fetched.returncode != 0:
        print("install: uv is not available from the registries; installing with pip", file=sys.stderr)
        return False
    uv = [sys.executable, "-m", "uv", "pip", "install", "--quiet", "--compile-bytecode", "--python", sys.executable,
          *arguments, *EDITABLE]
    done = subprocess.run(uv, env={**os.environ, **env})
    if done.returncode != 0:
        print("install: uv failed (above); installing with pip", file=sys.stderr)
        return False
    return True


def main() -> int:
    if sys.prefix == sys.base_prefix:
        print("install: run this with a virtual environment's python (make does)", file=sys.stderr)
        return 2
    if install_with_uv():
        return 0
    return subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *EDITABLE]).returncode


if __name__ == "__main__":
    sys.exit(main())
