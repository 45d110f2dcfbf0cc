"""The project's structural promises, checked on the source text."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ["messages", "venues", "actors", "simulator", "daemon"]

# package -> top-level project packages it may import
ALLOWED = {
    "messages": {"messages"},
    "venues": {"messages", "venues"},
    "actors": {"messages", "venues", "actors"},
    "simulator": {"messages", "simulator"},
    "daemon": {"messages", "venues", "actors", "daemon", "supervisor", "simulator"},
}
PROJECT = set(PACKAGES) | {"supervisor"}
NO_IO = {"asyncio", "anyio", "aiohttp", "socket", "time", "uvloop", "threading", "selectors"}


def _py_files(pkg: str) -> list[Path]:
    root = REPO / pkg
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*.py") if not any(part.startswith(".") for part in p.relative_to(root).parts))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("pkg", PACKAGES)
def test_imports_point_one_way(pkg: str) -> None:
    bad = []
    for path in _py_files(pkg):
        wrong = (_imports(path) & PROJECT) - ALLOWED[pkg]
        if wrong:
            bad.append(f"{path.relative_to(REPO)} imports {sorted(wrong)}")
    assert bad == []


def test_venues_package_does_no_io() -> None:
    bad = [f"{p.relative_to(REPO)}: {sorted(_imports(p) & NO_IO)}" for p in _py_files("venues") if _imports(p) & NO_IO]
    assert bad == []


def test_no_bare_task_spawning_anywhere() -> None:
    needles = ("create_task(", "ensure_future(", "get_event_loop(")
    bad = []
    for pkg in PACKAGES + ["bench"]:
        for path in _py_files(pkg):
            text = path.read_text()
            bad += [f"{path.relative_to(REPO)}: {n}" for n in needles if n in text]
    top = REPO / "supervisor.py"
    bad += [f"supervisor.py: {n}" for n in needles if n in top.read_text()]
    assert bad == []


def test_no_module_named_utils_or_helpers() -> None:
    bad = [p for pkg in PACKAGES for p in _py_files(pkg) if p.stem in {"utils", "helpers", "misc", "common"}]
    assert bad == []
