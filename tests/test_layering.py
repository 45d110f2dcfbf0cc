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
    "daemon": {"messages", "venues", "actors", "daemon", "simulator"},  # never supervisor.py: it imports daemon/
}
PROJECT = set(PACKAGES) | {"supervisor"}
NO_IO = {"asyncio", "anyio", "aiohttp", "socket", "time", "uvloop", "threading", "selectors"}


def _py_files(pkg: str) -> list[Path]:
    root = REPO / pkg
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*.py") if not any(part.startswith(".") for part in p.relative_to(root).parts))


def _parse(path: Path) -> ast.Module:
    """``ast.parse``, again on CPython 3.11's spurious "AST constructor recursion depth mismatch" SystemError
    (gh-106905: an error path of the AST constructor skipped its depth decrement; seen rarely, in threaded
    programs; fixed in 3.11.8 and 3.12.1). It hit this file once in CI, late in a long pytest process."""
    for _ in range(3):
        try:
            return ast.parse(path.read_text(), filename=str(path))
        except SystemError:
            continue
    return ast.parse(path.read_text(), filename=str(path))


def _imports(path: Path) -> set[str]:
    tree = _parse(path)
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


def _module_names() -> dict[str, Path]:
    names = {"supervisor": REPO / "supervisor.py"}
    for pkg in PACKAGES:
        for path in _py_files(pkg):
            parts = path.relative_to(REPO).with_suffix("").parts
            names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _module_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports, anywhere in it (functions and ``if TYPE_CHECKING:`` included: a
    type-only import back is still a circle in the design). ``from pkg import mod`` imports ``pkg.mod``."""
    out: set[str] = set()
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
            out |= subs if len(subs) == len(node.names) else subs | {node.module}
    return out & modules.keys()


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_circles_between_the_projects_modules() -> None:
    modules = _module_names()
    graph = {name: _module_imports(path, modules) - {name} for name, path in modules.items()}
    assert _circles(graph) == []


def test_the_circle_finder_sees_a_circle() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_the_daemon_reaches_actors_through_refs_and_the_bus_only() -> None:
    """daemon/ builds the graph and talks to it; it never reads an actor's insides (``handle.actor``, an
    actor's ``stats()``) nor a supervisor's private specs. The doctor is the exception: it runs an exchange
    actor of its own, outside any supervisor, and judges it."""
    bad = []
    for path in _py_files("daemon"):
        if path.name == "doctor.py":
            continue
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Attribute) and node.attr in {"actor", "_specs", "stats"} and not (
                    isinstance(node.value, ast.Name) and node.value.id == "topics"):  # topics.actor(): a topic
                bad.append(f"{path.relative_to(REPO)}:{node.lineno} .{node.attr}")
    assert bad == []
