"""The layers hold: no package imports one above it, and pmm_core needs no Flower, MLflow or typer.

Read from the source (every import statement, at module level or inside a function), so a
lazy import that breaks the order fails here as an eager one would. The orders are the ones
docs/ARCHITECTURE.md draws."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# installed name -> folder, lowest first: a package may import those before it, never after
PACKAGES = [("pmm_core", "pmm_core"), ("pmm.runtime", "runtime"), ("pmm.tracking", "tracking"),
            ("pmm.inference", "inference"), ("pmm.centralized", "centralized"), ("pmm.client", "client"),
            ("pmm.server", "server"), ("pmm.simulation", "simulation"), ("pmm.experiments", "experiments"),
            ("pmm", "pmm")]
# the two roles of a federation meet only through Flower
APART = {("pmm.client", "pmm.server"), ("pmm.server", "pmm.client"),
         ("pmm.client", "pmm.centralized"), ("pmm.centralized", "pmm.client"),
         ("pmm.server", "pmm.centralized"), ("pmm.centralized", "pmm.server")}
# pmm_core's own order: the base modules (errors, modalities, tasks, atomic), then these
CORE = ["config", "data", "phantom", "models", "training", "methods", "evaluation", "federated"]
CORE_FORBIDDEN = ("flwr", "mlflow", "typer")


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def owner(module: str) -> str | None:
    names = sorted((name for name, _ in PACKAGES), key=len, reverse=True)
    return next((n for n in names if module == n or module.startswith(n + ".")), None)


def test_no_package_imports_one_above_it() -> None:
    rank = {name: i for i, (name, _) in enumerate(PACKAGES)}
    wrong = []
    for name, folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for module in imports(path):
                other = owner(module)
                if other is not None and other != name and (rank[other] > rank[name] or (name, other) in APART):
                    wrong.append(f"{path.relative_to(ROOT)} imports {module} ({other} is not below {name})")
    assert not wrong, "\n".join(wrong)


def test_pmm_core_subpackages_keep_their_order_and_need_no_runtime() -> None:
    rank = {name: i for i, name in enumerate(CORE)}
    wrong = []
    for path in sorted((ROOT / "pmm_core").rglob("*.py")):
        parts = path.relative_to(ROOT / "pmm_core").parts
        here = parts[0] if len(parts) > 1 else None   # None: a base module (errors, modalities, ...)
        for module in imports(path):
            if module.split(".")[0] in CORE_FORBIDDEN:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
            if not module.startswith("pmm_core."):
                continue
            there = module.split(".")[1]
            if there not in rank or there == here:
                continue
            if here is None or here not in rank or rank[there] > rank[here]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module} (pmm_core.{there} is above it)")
    assert not wrong, "\n".join(wrong)


def test_the_orders_name_every_package() -> None:
    folders = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench", "sites"}
    assert folders == {folder for _, folder in PACKAGES} - {"pmm_core"} | {"pmm_core"}
    core = {p.parent.name for p in (ROOT / "pmm_core").glob("*/__init__.py")}
    assert core == set(CORE)
