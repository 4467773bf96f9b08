"""Print the hub's import graph between units (packages), for the working tree or a git revision.

A *unit* is what the layering rule in ``docs/architecture.md`` talks about: ``sso.accounts``
for every module of that package, ``sso.base`` for the base layer, each top-level module of
``sso`` on its own (``sso.app``, ``sso.config``...), ``user_pairing`` and ``examples.invoicing``.

Every ``.py`` file under ``sso/``, ``user_pairing/`` and ``examples/invoicing/`` is parsed with
:mod:`ast`; every import counts wherever it is written (module level, inside a function, under
``if TYPE_CHECKING:``). ``from pkg import name`` counts as importing ``pkg.name`` when that is a
module, and relative imports are resolved against the importing module's package. An edge's
count is the number of (statement, imported module) pairs from one unit into the other.

Usage (from the repository root)::

    python docs/import_graph.py            # the working tree
    python docs/import_graph.py e69bce8    # a git revision
    python docs/import_graph.py --dot      # Graphviz DOT instead of the edge list

The test ``tests/test_layering.py`` loads this file for its parser: one parser, two users.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# The trees the rule covers, as repository-relative directories.
SCANNED = ("sso", "user_pairing", "examples/invoicing")

# The top-level names of the project's own code: imports of anything else are third-party.
PROJECT_ROOTS = frozenset({"sso", "user_pairing", "examples"})

# Where an import is written. Module-level code runs on import; a TYPE_CHECKING block is
# written at module level but only read by the type checker; a function body runs on call.
MODULE = "module-level"
TYPE_CHECKING = "TYPE_CHECKING"
FUNCTION = "function-level"


@dataclass(frozen=True)
class Import:
    """One module imported by one statement of one scanned file."""

    source: str  # the importing module, e.g. "sso.flows.views"
    path: str  # its file, repository-relative, e.g. "sso/flows/views.py"
    line: int
    target: str  # the imported module, resolved, e.g. "sso.error_pages"
    scope: str  # MODULE, TYPE_CHECKING or FUNCTION
    statement: str  # the import statement on one line

    def where(self) -> str:
        """``path:line``, the way an editor opens it."""
        return f"{self.path}:{self.line}"


class ImportResolutionError(ValueError):
    """A relative import that climbs above the top-level package."""


def module_name(path: str) -> str:
    """The dotted module name of a repository-relative ``.py`` path."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_scanned(path: str) -> bool:
    """Whether a repository-relative path is a Python file the rule covers."""
    return path.endswith(".py") and any(path.startswith(root + "/") for root in SCANNED)


def unit_of(module: str) -> str:
    """The unit of a project module: ``sso`` plus one component, ``user_pairing``, or ``examples`` plus one."""
    parts = module.split(".")
    if parts[0] == "user_pairing":
        return "user_pairing"
    return ".".join(parts[:2])


def is_project(module: str) -> bool:
    """Whether a module is the project's own code (as opposed to Flask, the standard library...)."""
    return module.split(".")[0] in PROJECT_ROOTS


def _is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _walk(nodes: Iterable[ast.AST], scope: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement below ``nodes`` with the scope it is written in."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, scope
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _walk(node.body, FUNCTION)
        elif isinstance(node, ast.If) and scope == MODULE and _is_type_checking(node.test):
            yield from _walk(node.body, TYPE_CHECKING)
            yield from _walk(node.orelse, scope)
        else:
            yield from _walk(ast.iter_child_nodes(node), scope)


def _package_of(path: str) -> str:
    """The package a module's relative imports are resolved against."""
    name = module_name(path)
    return name if path.endswith("/__init__.py") else name.rpartition(".")[0]


def _from_base(node: ast.ImportFrom, package: str) -> str:
    """The module named after ``from``, with leading dots resolved against ``package``."""
    if node.level == 0:
        return node.module or ""
    parts = package.split(".") if package else []
    keep = len(parts) - (node.level - 1)
    if keep <= 0:
        raise ImportResolutionError(f"relative import beyond the top-level package from {package!r}")
    return ".".join([*parts[:keep], *([node.module] if node.module else [])])


def _targets(node: ast.Import | ast.ImportFrom, package: str, modules: frozenset[str]) -> list[str]:
    """The distinct modules one statement imports, in the order written."""
    if isinstance(node, ast.Import):
        found = [alias.name for alias in node.names]
    else:
        base = _from_base(node, package)
        found = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    return list(dict.fromkeys(found))


def _one_line(node: ast.stmt) -> str:
    """The statement on one line (``ast.unparse`` drops the parentheses of a wrapped import)."""
    return ast.unparse(node)


def parse_imports(path: str, source: str, modules: frozenset[str]) -> list[Import]:
    """All imports of one file; ``modules`` is every scanned module name (to spot submodules)."""
    tree = ast.parse(source, filename=path)
    name, package = module_name(path), _package_of(path)
    return [
        Import(name, path, node.lineno, target, scope, _one_line(node))
        for node, scope in _walk(tree.body, MODULE)
        for target in _targets(node, package, modules)
    ]


def collect_imports(sources: Mapping[str, str]) -> list[Import]:
    """All imports of the given files (repository-relative path -> source text)."""
    modules = frozenset(module_name(path) for path in sources)
    return [imp for path in sorted(sources) for imp in parse_imports(path, sources[path], modules)]


def read_worktree(root: Path = REPO) -> dict[str, str]:
    """The scanned files as they are on disk now."""
    sources = {}
    for top in SCANNED:
        for file in sorted((root / top).rglob("*.py")):
            path = file.relative_to(root).as_posix()
            if "__pycache__" not in path:
                sources[path] = file.read_text(encoding="utf-8")
    return sources


def _git(root: Path, *args: str) -> str:
    """Run a read-only git command in ``root`` and return its output."""
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def read_revision(revision: str, root: Path = REPO) -> dict[str, str]:
    """The scanned files as they are at a git revision (nothing on disk is touched)."""
    listing = _git(root, "ls-tree", "-r", "--name-only", revision, "--", *SCANNED).splitlines()
    return {path: _git(root, "show", f"{revision}:{path}") for path in listing if is_scanned(path)}


def unit_edges(imports: Iterable[Import]) -> Counter[tuple[str, str]]:
    """How many imports go from each unit to each other unit of the project."""
    edges: Counter[tuple[str, str]] = Counter()
    for imp in imports:
        if is_project(imp.target) and unit_of(imp.source) != unit_of(imp.target):
            edges[unit_of(imp.source), unit_of(imp.target)] += 1
    return edges


def format_edges(edges: Counter[tuple[str, str]]) -> str:
    """One ``A -> B  (n imports)`` line per edge, sorted."""
    lines = []
    for (source, target), count in sorted(edges.items()):
        lines.append(f"{source} -> {target}  ({count} import{'' if count == 1 else 's'})")
    return "\n".join(lines)


def format_dot(edges: Counter[tuple[str, str]], title: str) -> str:
    """The graph in Graphviz DOT, each edge labelled with its count."""
    lines = [f"// unit import graph: {title}", "digraph imports {", "  rankdir=BT;", "  node [shape=box];"]
    for (source, target), count in sorted(edges.items()):
        lines.append(f'  "{source}" -> "{target}" [label="{count}"];')
    lines.append("}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the graph of the working tree or of ``REVISION``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("revision", nargs="?", help="a git revision (default: the working tree)")
    parser.add_argument("--dot", action="store_true", help="print Graphviz DOT instead of the edge list")
    args = parser.parse_args(argv)
    sources = read_revision(args.revision) if args.revision else read_worktree()
    edges = unit_edges(collect_imports(sources))
    print(format_dot(edges, args.revision or "working tree") if args.dot else format_edges(edges))
    return 0


if __name__ == "__main__":
    sys.exit(main())
