"""The architecture of ``confine/``, read from its source (DESIGN.md section 4, issue 21).

Everything here parses the modules with :mod:`ast`; nothing is imported.

* **No import cycle.** The graph has one node per module and one edge per
  import of a confine module, wherever it is (module level, inside a function,
  under ``if TYPE_CHECKING``), absolute or relative; ``from confine import x``
  and ``from confine.pkg import x`` point at the submodule when ``x`` is one,
  else at the package. A cycle is printed as ``a -> b -> a``.
* **Sizes.** A module has at most 600 lines, a class at most 300, a function
  (or method) at most 80, counted from its ``def``/``class`` line to its last
  line. A function may be longer when its docstring says why in a sentence
  starting ``Long because`` (e.g. "Long because the cases share one state
  machine."); nothing else exempts it.
* **No function-level import of a confine module** (an import inside a function
  dodging a cycle). The only exceptions are the entry points, the API
  (``confine/__init__.py``) and the CLI (``confine/cli.py``), which load the
  heavy stacks (the solver, sweeps, fits: dolfinx, pandas, scipy.optimize) when
  a command asks for them, so ``import confine`` and ``confine validate`` stay
  light: exactly the pairs in :data:`LAZY_ENTRY_IMPORTS`. Third-party lazy
  imports (pyvista, matplotlib, gmsh, ...) are not checked here.
* **Nothing below the CLI and the API imports the package root** ``confine``.

``KNOWN_OFFENDERS`` lists, per rule, the modules that break it today; each is
owned by another part of issue 21 (the solver split, metrics, calibrate,
sweeps, bench, io) and leaves the list when that part lands. Nothing else may
be added to it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "confine"

MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 80
LONG_MARK = "Long because"

#: Function-level imports the entry points may make (importer, imported): the
#: heavy stacks, loaded when a command asks for them.
LAZY_ENTRY_IMPORTS = {
    ("confine", "confine.pipeline"),
    ("confine", "confine.sweeps"),
    ("confine", "confine.calibrate"),
    ("confine.cli", "confine.sweeps"),
    ("confine.cli", "confine.calibrate"),
}

#: Known offenders, all in modules other parts of issue 21 are rewriting; the
#: lead empties these as those parts land. Do not add modules to them.
KNOWN_OFFENDERS: dict[str, set[str]] = {
    # > 600 lines, a class > 300 or a function > 80
    "size": set(),
    # `from confine... import` inside a function
    "function_import": set(),
    # importing the package root below the CLI and the API
    "package_root": set(),
}


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module ``name`` is, or the innermost module (package) that holds it."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> Iterator[tuple[ast.stmt, str, bool]]:
    """Every import of a confine module in ``module``: (statement, target, in a function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.stmt, str, bool]]:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    target = _owner(alias.name)
                    if target is not None:
                        yield child, target, in_function
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    source = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    source = child.module or ""
                if source.split(".")[0] == "confine":
                    for alias in child.names:
                        sub = f"{source}.{alias.name}"
                        target = sub if sub in MODULES else _owner(source)
                        if target is not None:
                            yield child, target, in_function
            yield from walk(child, inside)

    yield from walk(tree, False)


def import_graph() -> dict[str, set[str]]:
    """Module -> the confine modules it imports (anywhere in it)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for _, target, _ in _imports(module, path):
            if target != module:
                graph[module].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component with more than one
    module (Tarjan), or per module that imports itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_cycle_in(graph, set(comp)) for comp in components]


def _cycle_in(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A concrete cycle through the first module of a strongly connected component."""
    start = min(comp)
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth-first: the shortest way back to start
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & comp):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    return [start, start]


def _long_definitions(tree: ast.Module) -> Iterator[tuple[str, int, int]]:
    """(qualified name, lines, limit) of every class or function over its limit."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                is_class = isinstance(child, ast.ClassDef)
                limit = MAX_CLASS_LINES if is_class else MAX_FUNCTION_LINES
                excused = not is_class and LONG_MARK in (ast.get_docstring(child) or "")
                if lines > limit and not excused:
                    yield name, lines, limit
                yield from walk(child, f"{name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


# --------------------------------------------------------------------------- tests
def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph()
    assert "confine.case" in graph["confine"]  # module level, absolute
    assert "confine.pipeline" in graph["confine"]  # inside a function
    # `from confine.geometry import hollow` is the submodule, not the package
    assert "confine.geometry.hollow" in graph["confine.geometry.model"]
    assert "confine.geometry" not in graph["confine.geometry.model"]
    toy = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(toy) == [["a", "b", "c", "a"]]


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_module_class_and_function_sizes() -> None:
    found = []
    for module, path in MODULES.items():
        if module in KNOWN_OFFENDERS["size"]:
            continue
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n > MAX_MODULE_LINES:
            found.append(f"{path.relative_to(ROOT)}: {n} lines (limit {MAX_MODULE_LINES})")
        for name, lines, limit in _long_definitions(ast.parse(text)):
            found.append(
                f"{path.relative_to(ROOT)}: {name} is {lines} lines (limit {limit}; a function "
                f"may say why in its docstring: '{LONG_MARK} ...')"
            )
    assert not found, "too long:\n" + "\n".join(found)


def test_no_function_level_imports_of_confine_modules() -> None:
    found = []
    for module, path in MODULES.items():
        if module in KNOWN_OFFENDERS["function_import"]:
            continue
        for stmt, target, in_function in _imports(module, path):
            if in_function and (module, target) not in LAZY_ENTRY_IMPORTS:
                found.append(f"{path.relative_to(ROOT)}:{stmt.lineno}: imports {target}")
    assert not found, "imports inside functions:\n" + "\n".join(found)


def test_nothing_below_the_cli_and_the_api_imports_the_package_root() -> None:
    entry_points = {"confine", "confine.cli", "confine.__main__"}
    graph = import_graph()
    found = [
        m
        for m, targets in graph.items()
        if "confine" in targets
        and m not in entry_points
        and m not in KNOWN_OFFENDERS["package_root"]
    ]
    assert not found, f"import the package root `confine`: {', '.join(sorted(found))}"


def test_known_offenders_still_offend() -> None:
    """The allow-lists shrink: a module that now passes must leave them."""
    graph = import_graph()
    for module in KNOWN_OFFENDERS["function_import"]:
        assert any(f for _, _, f in _imports(module, MODULES[module])), (
            f"{module} has no function-level confine import left: remove it from the allow-list"
        )
    for module in KNOWN_OFFENDERS["package_root"]:
        assert "confine" in graph[module], f"{module} no longer imports the package root"
    for module in KNOWN_OFFENDERS["size"]:
        text = MODULES[module].read_text(encoding="utf-8")
        assert len(text.splitlines()) > MAX_MODULE_LINES or any(
            _long_definitions(ast.parse(text))
        ), f"{module} is within the size limits now: remove it from the allow-list"
