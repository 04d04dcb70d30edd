"""The installed layout: one top-level name, `pmm` (plus pmm_core), whatever folder a package
lives in, and a non-editable install that runs from the files it ships.

pip puts every top-level package of a wheel into site-packages, where a `server` or `client` of
another distribution would shadow pmm's or be shadowed by it; pmm installs its folders as
`pmm.server`, `pmm.client`, ... (pyproject's package-dir) and the site files as `pmm.sites`."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_installed_under_its_name() -> None:
    """A package folder missing from pyproject's explicit list would be left out of a wheel
    while an editable install still imports it: caught here, not by a user."""
    config = _setuptools()
    folders = {name: ROOT / path for name, path in config["package-dir"].items()} | {"pmm": ROOT / "pmm",
                                                                                     "pmm_core": ROOT / "pmm_core"}
    found = set()
    for name, folder in folders.items():
        found |= {".".join([name, *init.parent.relative_to(folder).parts]) for init in folder.rglob("__init__.py")}
    assert found - {"pmm.sites"} <= set(config["packages"]), sorted(found - set(config["packages"]))
    assert not {p for p in config["packages"] if p.split(".")[0] not in ("pmm", "pmm_core")}


def test_a_wheel_installs_one_name_and_prepares_the_shipped_site_file(prepared_phantom: Path, tmp_path: Path) -> None:
    wheels, target, work, source = (tmp_path / name for name in ("wheels", "site-packages", "project", "source"))
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    for name in listed:  # the checkout's files, built elsewhere: no build/ left in the checkout
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(wheels), str(source)], capture_output=True, text=True, cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                                *map(str, wheels.glob("pmm-*.whl"))], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert {p.name for p in target.iterdir() if (p / "__init__.py").is_file()} == {"pmm", "pmm_core"}
    assert (target / "pmm" / "sites" / "brats.toml").is_file() and (target / "pmm" / "server" / "server_app.py").is_file()

    (work / "data").mkdir(parents=True)
    (work / "data" / "BraTS").symlink_to(prepared_phantom / "BraTS")  # ./data/BraTS, where the shipped file points
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for name in ("server", "client", "tracking", "centralized", "experiments"):
        imported = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=work, env=env, capture_output=True)
        assert imported.returncode != 0, f"`import {name}` should fail outside the checkout"
    where = subprocess.run([sys.executable, "-c", "import pmm, pmm.server.server_app; print(pmm.__file__)"], cwd=work,
                           env=env, capture_output=True, text=True)
    assert where.stdout.startswith(str(target)), where.stdout + where.stderr  # the wheel's, not the checkout's
    prepared = subprocess.run([sys.executable, "-m", "pmm", "prepare", "--site", "BraTS", "--cache-dir", "cache"],
                              cwd=work, env=env, capture_output=True, text=True)
    assert prepared.returncode == 0, prepared.stdout[-2000:] + prepared.stderr[-2000:]
    assert len(list((work / "cache" / "BraTS" / "cases").iterdir())) == 3
