"""The shape of the package: no import cycles, and the low layers never reach upward.

The graph is read from the source with ``ast``, so an import hidden inside a function counts
as much as one at the top (that is how a cycle hides). Imports under ``if TYPE_CHECKING:``
do not count: they never run.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
LOCK_MODULES = ("fcntl", "msvcrt")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(APP.rglob("*.py"))}


@functools.cache
def parsed(module: str) -> ast.Module:
    """A module's syntax tree, read once for all the checks below."""
    return ast.parse(MODULES[module].read_text(encoding="utf-8"))


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except what sits under ``if TYPE_CHECKING:``."""
    found: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
                continue
            todo.append(child)
    return found


def _target(name: str) -> str | None:
    """The app module ``name`` resolves to (a package's ``__init__`` for a package), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> dict[str, set[str]]:
    """Every module this one imports (top-level names included, for stdlib checks) -> line numbers."""
    tree = parsed(module)
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, set[str]] = {}
    for node in _runtime_nodes(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from app import paths` imports the module app.paths; `from app.x import y` imports app.x
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        for name in names:
            found.setdefault(name, set()).add(f"{MODULES[module].relative_to(APP.parent)}:{node.lineno}")
    return found


def app_graph() -> dict[str, dict[str, set[str]]]:
    """module -> {app module it imports -> where}."""
    graph: dict[str, dict[str, set[str]]] = {}
    for module in MODULES:
        edges: dict[str, set[str]] = {}
        for name, where in imports_of(module).items():
            target = _target(name) if name.split(".")[0] == "app" else None
            if target is not None and target != module:
                edges.setdefault(target, set()).update(where)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def _describe(graph: dict[str, dict[str, set[str]]], component: list[str]) -> str:
    inside = set(component)
    return "; ".join(f"{src} -> {dst} ({', '.join(sorted(graph[src][dst]))})"
                     for src in component for dst in sorted(graph[src]) if dst in inside)


def _in(module: str, *layers: str) -> bool:
    return any(module == layer or module.startswith(layer + ".") for layer in layers)


def test_the_graph_sees_function_level_imports():
    # app/__init__.py imports the pipeline inside remove_background() only
    assert "app.batch.pipeline" in app_graph()["app"]


def test_no_module_in_app_imports_in_a_cycle():
    graph = app_graph()
    assert [_describe(graph, c) for c in cycles(graph)] == []


def test_app_core_imports_nothing_from_app_outside_core():
    graph = app_graph()
    upward = {f"{src} -> {dst}": sorted(where) for src, edges in graph.items() if _in(src, "app.core")
              for dst, where in edges.items() if not _in(dst, "app.core")}
    assert upward == {}


def test_app_inference_imports_only_core_inference_and_paths():
    graph = app_graph()
    upward = {f"{src} -> {dst}": sorted(where) for src, edges in graph.items() if _in(src, "app.inference")
              for dst, where in edges.items() if not _in(dst, "app.core", "app.inference", "app.paths")}
    assert upward == {}


# From the top down; a module may import from its own layer and any layer below it. app.paths and
# app.allocator sit below everything. The package root ``app`` holds the version (which every layer
# may read) and the library API remove_background (which imports the pipeline when it is called).
LAYERS = ("app.cli", "app.desktop", "app.support", "app.evaluation", "app.batch", "app.governance",
          "app.inference", "app.core")
FOUNDATIONS = ("app.paths", "app.allocator")


def _layer(module: str) -> int:
    if module == "app" or module == "app.__main__":
        return -1
    if _in(module, *FOUNDATIONS):
        return len(LAYERS)
    return next(i for i, layer in enumerate(LAYERS) if _in(module, layer))


def test_every_module_sits_in_a_layer():
    assert [m for m in MODULES if m not in ("app", "app.__main__") and not _in(m, *LAYERS, *FOUNDATIONS)] == []


def test_no_layer_reaches_upward():
    graph = app_graph()
    upward = {f"{src} -> {dst}": sorted(where) for src, edges in graph.items() for dst, where in edges.items()
              if _layer(dst) < _layer(src) and dst != "app"}
    assert upward == {}


def test_only_the_lock_helper_touches_the_platform_lock_modules():
    users = {module: sorted(where) for module in MODULES for name, where in imports_of(module).items()
             if name in LOCK_MODULES}
    assert set(users) <= {"app.core.filelock"}, users


# ---------------------------------------------------------------- one fact, one place


def _where(predicate) -> dict[str, list[int]]:
    """module -> lines of the nodes ``predicate`` accepts."""
    found: dict[str, list[int]] = {}
    for module in MODULES:
        for node in ast.walk(parsed(module)):
            if predicate(node):
                found.setdefault(module, []).append(node.lineno)
    return found


def test_the_device_choices_are_written_once():
    def device_list(node: ast.AST) -> bool:
        return (isinstance(node, (ast.Tuple, ast.List))
                and [getattr(e, "value", None) for e in node.elts] == ["auto", "cpu"])

    assert set(_where(device_list)) == {"app.inference.providers"}


def test_image_suffixes_are_checked_in_one_place():
    def names_the_set(node: ast.AST) -> bool:
        return (isinstance(node, ast.Name) and node.id == "IMAGE_SUFFIXES") or (
            isinstance(node, ast.alias) and node.name == "IMAGE_SUFFIXES")

    assert set(_where(names_the_set)) == {"app.core.decode"}


def test_files_are_hashed_in_one_place():
    def streams_a_hash(node: ast.AST) -> bool:  # for block in iter(lambda: fh.read(n), b""): ...
        return (isinstance(node, ast.For) and isinstance(node.iter, ast.Call)
                and getattr(node.iter.func, "id", None) == "iter" and isinstance(node.iter.args[0], ast.Lambda))

    assert set(_where(streams_a_hash)) == {"app.core.digest"}


def test_only_paths_asks_platformdirs_where_folders_are():
    users = {module for module in MODULES for name in imports_of(module) if name.split(".")[0] == "platformdirs"}
    assert users == {"app.paths"}


def test_only_the_manifest_module_reads_manifest_files():
    def names_the_file(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and node.value == "manifest.json"

    assert set(_where(names_the_file)) == {"app.inference.manifest"}
