"""The package's architecture is a checked contract (docs/architecture.md).

* The layers: import-linter's contract in ``pyproject.toml`` (each sub-package imports only the
  layers below it), run here so ``make test`` enforces it.
* No import cycles between modules, counting imports inside functions too.
* No ``_private`` name imported from another module: what a module shares, it names publicly.
* No module over ~600 lines and no function over ~80 lines without a comment saying why.

The module graph is read from the source with :mod:`ast`, so the checks see function-level
imports that an import-time check would miss.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cipmodel"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
#: The marker a long module or function carries, with its reason, to be allowed.
LONG_MARKER = "# long:"


@dataclass(frozen=True)
class Import:
    """One ``import`` or ``from ... import`` of a cipmodel module, as written in the source."""

    importer: str
    module: str
    names: tuple[str, ...]
    line: int


def module_name(path: Path) -> str:
    """``cipmodel/engine/project.py`` -> ``cipmodel.engine.project``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path) -> Iterator[Import]:
    """Every import of a cipmodel module in one file, at any depth (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base == "cipmodel" or base.startswith("cipmodel."):
                yield Import(name, base, tuple(a.name for a in node.names), node.lineno)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cipmodel"):
                    yield Import(name, alias.name, (), node.lineno)


def all_imports() -> list[Import]:
    return [imp for name, path in modules().items() for imp in imports(name, path)]


def resolve(imp: Import, known: dict[str, Path]) -> list[str]:
    """The modules an import really depends on (``from pkg import module`` names a module)."""
    out = []
    for n in imp.names:
        if f"{imp.module}.{n}" in known:
            out.append(f"{imp.module}.{n}")
    if imp.module in known and (not imp.names or len(out) < len(imp.names)):
        out.append(imp.module)
    return out


def test_layers_contract_is_kept() -> None:
    """import-linter: each layer imports only the layers below it (pyproject.toml)."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail(
            "import-linter is not installed: it is in the test extras (pip install -e '.[test]')"
        )
    done = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_import_cycles_between_modules() -> None:
    """The module graph (function-level imports included) has no cycle.

    The package ``__init__`` files that re-export names lazily are left out of the graph: a
    package importing its own modules on first use is not a dependency of those modules.
    """
    known = modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    for imp in all_imports():
        if imp.importer == "cipmodel":
            continue
        for target in resolve(imp, known):
            if target != imp.importer and target != "cipmodel":
                graph[imp.importer].add(target)
    cycles = _cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
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
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_private_name_crosses_a_module_boundary() -> None:
    """No module imports a ``_name`` from another module (tests may; the package may not)."""
    known = modules()
    bad = [
        f"{imp.importer}:{imp.line} imports {n} from {imp.module}"
        for imp in all_imports()
        for n in imp.names
        if n.startswith("_") and not n.startswith("__") and f"{imp.module}.{n}" not in known
    ]
    assert not bad, "\n".join(bad)


def code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function from its ``def`` to its end, its docstring not counted."""
    total = (node.end_lineno or node.lineno) - node.lineno + 1
    first = node.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        total -= (first.end_lineno or first.lineno) - first.lineno + 1
    return total


def _marked(lines: list[str], first: int, last: int) -> bool:
    """Whether a ``# long: reason`` comment sits in lines ``first..last`` (1-based)."""
    return any(LONG_MARKER in line for line in lines[first - 1 : last])


def test_modules_and_functions_are_short_or_say_why() -> None:
    """Modules up to ~600 lines and functions up to ~80 lines of code (docstrings not counted),
    unless a ``# long: reason`` comment near the top of the module or function says why."""
    bad = []
    for name, path in modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_MODULE_LINES and not _marked(lines, 1, 40):
            bad.append(f"{name}: {len(lines)} lines (> {MAX_MODULE_LINES}, no '{LONG_MARKER}')")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = code_lines(node)
                if n > MAX_FUNCTION_LINES and not _marked(lines, node.lineno, node.lineno + 40):
                    bad.append(f"{name}.{node.name}: {n} lines of code (> {MAX_FUNCTION_LINES})")
    assert not bad, "\n".join(bad)


#: Packages whose public signatures name precise types (mypy runs strict flags on the first
#: three). ``Any`` stays allowed in inputs (parsed TOML, ``replace(**changes)``), io and cli
#: (openpyxl and click objects), montecarlo's settings passthrough, and report (its pages
#: render the ``--json`` documents, and matplotlib's keyword arguments).
PRECISE = ("engine", "regime", "results", "examples")


def test_no_any_in_public_signatures_of_the_core() -> None:
    """Public functions and methods in the model's core name their types (no ``Any``)."""
    bad = []
    for pkg in PRECISE:
        for path in sorted((PACKAGE / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                if node.name.startswith("_"):
                    continue
                a = node.args
                params = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
                anns = [p.annotation for p in params if p is not None and p.annotation]
                anns += [node.returns] if node.returns is not None else []
                if any("Any" in ast.unparse(x) for x in anns):
                    bad.append(f"{module_name(path)}:{node.lineno} {node.name}")
    assert not bad, "\n".join(bad)
