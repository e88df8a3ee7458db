"""Every public subpackage exports exactly its ``__all__``, and no module reaches into another
package's private modules."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import telemetry

PACKAGE_DIR = Path(telemetry.__file__).parent

SUBPACKAGES = sorted(
    info.name
    for info in pkgutil.iter_modules(telemetry.__path__)
    if info.ispkg and not info.name.startswith("_")
)


def _sort_key(name: str) -> tuple[bool, bool, str]:
    # isort-style order, as ruff's RUF022 keeps it: CONSTANTS, Classes, functions.
    return (not name.isupper(), not name[0].isupper(), name)


def _exported(module: ModuleType) -> set[str]:
    """The public, non-module names a package defines or re-exports."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }


def test_the_public_subpackages_are_the_known_ones() -> None:
    assert SUBPACKAGES == [
        "aggregate",
        "codec",
        "config",
        "decode",
        "kafka",
        "pod",
        "rules",
        "simulate",
        "sinks",
        "stages",
        "windows",
    ]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_all_is_exactly_what_the_package_exports(name: str) -> None:
    module = importlib.import_module(f"telemetry.{name}")
    names: list[str] = module.__all__
    assert names == sorted(names, key=_sort_key), "__all__ is not sorted"
    assert len(set(names)) == len(names), "__all__ repeats a name"
    assert _exported(module) == set(names)


def _is_private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def _private_imports(tree: ast.Module, package: str) -> set[str]:
    """Every private module (a ``_x`` in its path) that ``tree``, a module of ``package``,
    imports."""
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            if any(_is_private(part) for part in base.split(".")):
                modules.add(base)
            else:  # ``from telemetry.codec import _plan`` imports a private module too
                modules |= {f"{base}.{a.name}" for a in node.names if _is_private(a.name)}
    return {m for m in modules if any(_is_private(part) for part in m.split("."))}


def _owner(module: str) -> str:
    """The package a private module belongs to: its path up to the first ``_x``."""
    parts = module.split(".")
    first = next(i for i, part in enumerate(parts) if _is_private(part))
    return ".".join(parts[:first])


def cross_package_private_imports(root: Path) -> set[tuple[str, str]]:
    """``(file, module)`` for every import, in the package at ``root``, of a private module of
    another package of ``telemetry``."""
    bad: set[tuple[str, str]] = set()
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        package = ".".join(["telemetry", *relative.parent.parts])
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for module in _private_imports(tree, package):
            owner = _owner(module)
            if owner.split(".")[0] != "telemetry":
                continue  # another project's private module is that project's business
            if package != owner and not package.startswith(owner + "."):
                bad.add((relative.as_posix(), module))
    return bad


def test_no_module_imports_another_packages_private_module() -> None:
    assert cross_package_private_imports(PACKAGE_DIR) == set()


def test_the_scan_finds_a_cross_package_private_import(tmp_path: Path) -> None:
    (tmp_path / "codec").mkdir()
    (tmp_path / "simulate").mkdir()
    (tmp_path / "codec" / "_fleet_ok.py").write_text("from telemetry.codec._framing import x\n")
    (tmp_path / "simulate" / "_fleet.py").write_text(
        "from telemetry.codec._schemas import SCHEMA_DIR\nfrom telemetry.codec import _plan\n"
    )
    (tmp_path / "simulate" / "_run.py").write_text("from ._fleet import Fleet\n")
    (tmp_path / "app.py").write_text("import telemetry.kafka._changelog\n")
    assert cross_package_private_imports(tmp_path) == {
        ("simulate/_fleet.py", "telemetry.codec._schemas"),
        ("simulate/_fleet.py", "telemetry.codec._plan"),
        ("app.py", "telemetry.kafka._changelog"),
    }
