"""The dependency rule of ``docs/architecture.md``, checked on the source of the working tree.

Every ``.py`` file under ``sso/``, ``user_pairing/`` and ``examples/invoicing/`` is parsed (by
``docs/import_graph.py``, the same parser that draws the graph). Imports count wherever they
are written: at module level, inside functions and under ``if TYPE_CHECKING:``. Only the
"no framework in the token core" rule looks at module-level code alone: what importing
``sso.multipass`` loads. Imports inside functions and under ``TYPE_CHECKING`` are not run on
import, so they are allowed there (the SQL store imports SQLAlchemy when it is used).

Each rule is one test; a failure lists every offending ``file:line`` with its import. The
self-tests at the end feed the checker small synthetic trees, so each rule is shown to fail
when it should.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from docs.import_graph import Import

REPO = Path(__file__).resolve().parent.parent


def _load_graph() -> ModuleType:
    """``docs/import_graph.py``, loaded from its path (``docs`` is not a package)."""
    spec = importlib.util.spec_from_file_location("import_graph", REPO / "docs" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


graph = _load_graph()

# Layers, bottom to top (see the diagram in docs/architecture.md).
CORE = "token core"
BASE = "base"
FEATURE = "feature"
APP = "app"
PLUGIN = "plugin"
EXAMPLE = "reference app"
OUTSIDE = "outside the rule"  # third-party, the standard library, project code not scanned
UNKNOWN = "unknown"  # a top-level module of sso that is not one of the app layer's

APP_MODULES = frozenset({"sso", "sso.app", "sso.config", "sso.error_pages", "sso.security", "sso.health"})
PURE_BASE = frozenset({"sso.base.clock", "sso.base.errors", "sso.base.identity", "sso.base.redirects"})
EXAMPLE_MAY_IMPORT = frozenset({"sso.base.identity", "sso.base.redirects", "sso.base.errors"})
FRAMEWORKS = frozenset({"flask", "werkzeug", "sqlalchemy", "jinja2", "wtforms", "alembic"})


def is_framework(module: str) -> bool:
    """Flask, Werkzeug, SQLAlchemy, any ``flask_*`` extension, and Jinja2, WTForms, Alembic."""
    top = module.split(".")[0]
    return top in FRAMEWORKS or top.startswith("flask_")


@dataclass(frozen=True)
class Tree:
    """The scanned modules and their imports, with the layer of each module."""

    sources: Mapping[str, str] = field(repr=False)  # repository-relative path -> source text

    @cached_property
    def imports(self) -> list[Import]:
        """Every import of every scanned file."""
        return list(graph.collect_imports(self.sources))

    @cached_property
    def modules(self) -> frozenset[str]:
        """Every scanned module's dotted name."""
        return frozenset(graph.module_name(path) for path in self.sources)

    @cached_property
    def sso_packages(self) -> frozenset[str]:
        """The subpackages of ``sso`` (``sso.accounts``...), found by having modules below them."""
        return frozenset(".".join(m.split(".")[:2]) for m in self.modules if m.startswith("sso.") and m.count(".") >= 2)

    def layer(self, module: str) -> str:
        """The layer a module belongs to."""
        unit = graph.unit_of(module)
        if unit == "sso.multipass":
            return CORE
        if unit == "sso.base":
            return BASE
        if unit in APP_MODULES:
            return APP
        if unit in self.sso_packages:
            return FEATURE
        if unit == "user_pairing":
            return PLUGIN
        if unit == "examples.invoicing":
            return EXAMPLE
        return UNKNOWN if unit.startswith("sso.") else OUTSIDE


@dataclass(frozen=True)
class Violation:
    """One import that breaks a rule, and why."""

    imp: Import
    why: str

    def __str__(self) -> str:
        imp = self.imp
        return f"{imp.where()}: `{imp.statement}` ({imp.scope}, imports {imp.target}): {self.why}"


Rule = Callable[[Tree], list[Violation]]


def core_imports_nothing_from_sso(tree: Tree) -> list[Violation]:
    """``sso.multipass`` imports nothing from ``sso`` outside itself."""
    return [
        Violation(imp, "the token core imports nothing from sso outside sso.multipass")
        for imp in tree.imports
        if tree.layer(imp.source) == CORE and imp.target.split(".")[0] == "sso" and tree.layer(imp.target) != CORE
    ]


def core_imports_no_framework(tree: Tree) -> list[Violation]:
    """``sso.multipass`` imports no framework at module level (inside functions and TYPE_CHECKING is allowed)."""
    return [
        Violation(imp, "the token core imports no framework at module level")
        for imp in tree.imports
        if tree.layer(imp.source) == CORE and imp.scope == graph.MODULE and is_framework(imp.target)
    ]


def base_imports_no_feature_app_or_plugin(tree: Tree) -> list[Violation]:
    """``sso.base`` imports nothing from a feature package, the app layer or ``user_pairing``."""
    return [
        Violation(imp, f"the base layer imports nothing from the {tree.layer(imp.target)} layer")
        for imp in tree.imports
        if tree.layer(imp.source) == BASE and tree.layer(imp.target) in {FEATURE, APP, PLUGIN, UNKNOWN}
    ]


def pure_base_imports_no_framework(tree: Tree) -> list[Violation]:
    """``clock``, ``errors``, ``identity`` and ``redirects`` import no framework, anywhere."""
    return [
        Violation(imp, "a pure base module imports no framework at all")
        for imp in tree.imports
        if imp.source in PURE_BASE and is_framework(imp.target)
    ]


def pure_base_imports_only_pure_base(tree: Tree) -> list[Violation]:
    """From ``sso``, a pure base module imports only pure base modules (so purity holds transitively)."""
    return [
        Violation(imp, "a pure base module imports, from sso, only clock, errors, identity and redirects")
        for imp in tree.imports
        if imp.source in PURE_BASE and imp.target.split(".")[0] == "sso" and imp.target not in PURE_BASE
    ]


def features_import_no_app_layer(tree: Tree) -> list[Violation]:
    """Feature packages never import the app layer (``sso``, ``sso.app``, ``sso.config``...)."""
    return [
        Violation(imp, "feature packages never import the app layer")
        for imp in tree.imports
        if tree.layer(imp.source) == FEATURE and tree.layer(imp.target) in {APP, UNKNOWN}
    ]


def features_import_one_way(tree: Tree) -> list[Violation]:
    """No two feature packages import each other (any import counts, TYPE_CHECKING ones too)."""
    between = [
        imp
        for imp in tree.imports
        if tree.layer(imp.source) == FEATURE
        and tree.layer(imp.target) == FEATURE
        and graph.unit_of(imp.source) != graph.unit_of(imp.target)
    ]
    edges = {(graph.unit_of(imp.source), graph.unit_of(imp.target)) for imp in between}
    return [
        Violation(imp, f"{graph.unit_of(imp.source)} and {graph.unit_of(imp.target)} import each other")
        for imp in between
        if (graph.unit_of(imp.target), graph.unit_of(imp.source)) in edges
    ]


def sso_imports_no_plugin_or_example(tree: Tree) -> list[Violation]:
    """No module of ``sso`` imports ``user_pairing`` or ``examples``."""
    return [
        Violation(imp, "sso never imports user_pairing or examples")
        for imp in tree.imports
        if imp.source.split(".")[0] == "sso" and imp.target.split(".")[0] in {"user_pairing", "examples"}
    ]


def plugin_imports_public_sso(tree: Tree) -> list[Violation]:
    """``user_pairing`` imports only public modules of ``sso`` (no ``_private`` component)."""
    return [
        Violation(imp, "user_pairing imports only public sso modules")
        for imp in tree.imports
        if tree.layer(imp.source) == PLUGIN
        and imp.target.split(".")[0] == "sso"
        and any(part.startswith("_") for part in imp.target.split("."))
    ]


def example_imports_core_and_pure_base(tree: Tree) -> list[Violation]:
    """``examples.invoicing`` imports, from the project, only ``sso.multipass`` and identity, redirects, errors."""
    return [
        Violation(imp, "the reference app imports only sso.multipass and sso.base.identity, .redirects, .errors")
        for imp in tree.imports
        if tree.layer(imp.source) == EXAMPLE
        and graph.is_project(imp.target)
        and tree.layer(imp.target) not in {EXAMPLE, CORE}
        and imp.target not in EXAMPLE_MAY_IMPORT
    ]


RULES: dict[str, Rule] = {
    rule.__name__: rule
    for rule in (
        core_imports_nothing_from_sso,
        core_imports_no_framework,
        base_imports_no_feature_app_or_plugin,
        pure_base_imports_no_framework,
        pure_base_imports_only_pure_base,
        features_import_no_app_layer,
        features_import_one_way,
        sso_imports_no_plugin_or_example,
        plugin_imports_public_sso,
        example_imports_core_and_pure_base,
    )
}


def report(rule: Rule, violations: list[Violation]) -> str:
    """The failure message: the rule, then one offending import a line."""
    lines = [f"{len(violations)} import(s) break the rule: {(rule.__doc__ or rule.__name__).strip()}"]
    return "\n".join([*lines, *(f"  {v}" for v in violations)])


@pytest.fixture(scope="module")
def tree() -> Tree:
    """The working tree as it is on disk now."""
    return Tree(graph.read_worktree(REPO))


def test_every_sso_module_has_a_layer(tree: Tree) -> None:
    """A new top-level module of ``sso`` must be placed in a layer (here and in the docs) first."""
    unplaced = sorted(m for m in tree.modules if tree.layer(m) == UNKNOWN)
    assert not unplaced, f"modules of sso in no layer (add them to APP_MODULES or a package): {unplaced}"


@pytest.mark.parametrize("name", list(RULES))
def test_rule(tree: Tree, name: str) -> None:
    """Each rule holds on the working tree."""
    violations = RULES[name](tree)
    if violations:
        pytest.fail(report(RULES[name], violations), pytrace=False)



def documented_edges(text: str) -> set[tuple[str, ...]]:
    """The ``A -> B`` edges of the graph block under "## The graph today" in the architecture doc."""
    section = text.split("## The graph today", 1)[1]
    block = section.split("```", 2)[1]
    return {tuple(line.split("  (")[0].split(" -> ")) for line in block.strip().splitlines()}


def test_the_documented_graph_has_the_trees_edges(tree: Tree) -> None:
    """docs/architecture.md shows the graph of today: every edge the tree has, and no other."""
    documented = documented_edges((REPO / "docs" / "architecture.md").read_text(encoding="utf-8"))
    actual = set(graph.unit_edges(tree.imports))
    assert documented == actual, (
        f"redraw the graph in docs/architecture.md (python docs/import_graph.py): "
        f"missing {sorted(actual - documented)}, gone {sorted(documented - actual)}"
    )

# Self-tests: the checker on synthetic trees, so that every rule is seen to fail.

PACKAGES = {
    "sso/__init__.py": "",
    "sso/base/__init__.py": "",
    "sso/multipass/__init__.py": "",
    "sso/accounts/__init__.py": "",
    "sso/flows/__init__.py": "",
    "user_pairing/__init__.py": "",
    "examples/invoicing/__init__.py": "",
}


def make_tree(files: Mapping[str, str]) -> Tree:
    """A synthetic tree: the package skeleton plus ``files``."""
    return Tree({**PACKAGES, **files})


def test_checker_catches_a_two_way_import() -> None:
    """A TYPE_CHECKING import one way and a function-level import back is a two-way import."""
    tree = make_tree(
        {
            "sso/accounts/models.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from ..flows import views\n",
            "sso/flows/views.py": "def sign_on():\n    from sso.accounts import models\n",
        }
    )
    message = report(features_import_one_way, features_import_one_way(tree))
    assert "sso/accounts/models.py:3: `from ..flows import views` (TYPE_CHECKING, imports sso.flows.views)" in message
    assert "sso/flows/views.py:2: `from sso.accounts import models` (function-level, imports sso.accounts.models)" in (
        message
    )
    one_way = make_tree({"sso/flows/views.py": "from sso.accounts import models\n", "sso/accounts/models.py": ""})
    assert features_import_one_way(one_way) == []


BAD_TREES: dict[str, dict[str, str]] = {
    "core_imports_nothing_from_sso": {"sso/multipass/codec.py": "def f():\n    from sso.base import clock\n"},
    "core_imports_no_framework": {"sso/multipass/replay.py": "import sqlalchemy as sa\n"},
    "base_imports_no_feature_app_or_plugin": {"sso/base/access.py": "from ..accounts import models\n"},
    "pure_base_imports_no_framework": {"sso/base/redirects.py": "def f():\n    from werkzeug import urls\n"},
    "pure_base_imports_only_pure_base": {"sso/base/identity.py": "from . import db\n", "sso/base/db.py": ""},
    "features_import_no_app_layer": {"sso/flows/views.py": "from sso.error_pages import render_error\n"},
    "features_import_one_way": {
        "sso/accounts/a.py": "import sso.flows.b\n",
        "sso/flows/b.py": "from ..accounts import a\n",
    },
    "sso_imports_no_plugin_or_example": {"sso/app.py": "def f():\n    import user_pairing.hub\n"},
    "plugin_imports_public_sso": {
        "user_pairing/hub.py": "from sso.accounts import _keys\n",
        "sso/accounts/_keys.py": "",
    },
    "example_imports_core_and_pure_base": {"examples/invoicing/auth.py": "from sso.base.clock import utcnow\n"},
}


@pytest.mark.parametrize("name", list(RULES))
def test_each_rule_can_fail(name: str) -> None:
    """Every rule reports the synthetic import that breaks it."""
    assert RULES[name](make_tree(BAD_TREES[name])), f"{name} missed its synthetic violation"


def test_lazy_and_type_checking_framework_imports_are_allowed_in_the_core() -> None:
    """The token core may import a framework inside a function, or for the type checker only."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import sqlalchemy\n"
        "def store():\n"
        "    import sqlalchemy\n"
    )
    tree = make_tree({"sso/multipass/replay.py": source})
    assert [imp.scope for imp in tree.imports if imp.target == "sqlalchemy"] == [graph.TYPE_CHECKING, graph.FUNCTION]
    assert core_imports_no_framework(tree) == []


def test_imports_resolve_to_modules() -> None:
    """Relative imports resolve against the package; ``from pkg import name`` names the submodule if it is one."""
    tree = make_tree(
        {
            "sso/accounts/views.py": "from ..audit import record\nfrom . import service\nfrom .service import x\n",
            "sso/accounts/service.py": "",
            "sso/audit/__init__.py": "from .service import record\n",
            "sso/audit/service.py": "",
        }
    )
    found = {(imp.path, imp.target) for imp in tree.imports}
    assert found == {
        ("sso/accounts/views.py", "sso.audit"),
        ("sso/accounts/views.py", "sso.accounts.service"),
        ("sso/audit/__init__.py", "sso.audit.service"),
    }
    assert [imp.line for imp in tree.imports if imp.path == "sso/accounts/views.py"] == [1, 2, 3]
