"""The rooms of docs/ARCHITECTURE.md, enforced: who may import what."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scimsaga"
STDLIB = set(sys.stdlib_module_names)


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(), str(path))
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]  # for a/b/c.py and for a/b/__init__.py alike, the package is a/b
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:
                    found.update(f"{module}.{alias.name}" for alias in node.names)
                else:
                    found.add(module)
            elif node.module:
                found.add(node.module)
    return found


def _files(room: str) -> list[Path]:
    target = PACKAGE / room
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


def _top(name: str) -> str:
    return name.split(".")[0]


def _violations(room: str, allowed) -> list[str]:
    return [f"{path.relative_to(PACKAGE.parent)} imports {name}"
            for path in _files(room) for name in sorted(_imports(path)) if not allowed(name)]


def test_protocol_layer_imports_only_the_stdlib_and_pydantic():
    def allowed(name: str) -> bool:
        return _top(name) in STDLIB | {"pydantic", "pydantic_core"} or name.startswith("scimsaga.scim")

    assert _violations("scim", allowed) == []


@pytest.mark.parametrize("room", ["scim", "http", "settings.py", "storage.py", "ports.py", "cli.py"])
def test_ray_is_imported_only_by_actors_bus_and_the_cluster(room):
    assert _violations(room, lambda name: _top(name) != "ray") == []


@pytest.mark.parametrize("room", ["scim", "bus", "actors", "cluster.py", "settings.py", "storage.py"])
def test_falcon_and_waitress_stay_in_http(room):
    assert _violations(room, lambda name: _top(name) not in {"falcon", "waitress"}) == []


def test_bus_never_imports_http_actors_or_the_composition_root():
    forbidden = ("scimsaga.http", "scimsaga.actors", "scimsaga.cluster", "scimsaga.cli")
    assert _violations("bus", lambda name: not name.startswith(forbidden)) == []


def test_services_never_import_http_or_the_composition_root():
    forbidden = ("scimsaga.http", "scimsaga.cluster", "scimsaga.cli")
    assert _violations("actors", lambda name: not name.startswith(forbidden)) == []


def test_front_door_talks_to_services_only_through_ports():
    forbidden = ("scimsaga.actors", "scimsaga.bus", "scimsaga.cluster", "scimsaga.cli", "scimsaga.storage")
    assert _violations("http", lambda name: not name.startswith(forbidden)) == []


def test_leaf_modules_import_no_other_room():
    for leaf in ("settings.py", "storage.py"):
        assert _violations(leaf, lambda name: not name.startswith("scimsaga")) == []


def test_the_import_walker_sees_relative_imports():
    names = _imports(PACKAGE / "actors" / "identity.py")
    assert "scimsaga.bus.envelope" in names
    assert "scimsaga.scim.errors" in names
