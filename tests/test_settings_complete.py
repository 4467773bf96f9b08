"""Every configuration key is declared once, documented in the README, and read without a default.

The declarations are :data:`sso.config.SETTINGS` (the hub) and
:data:`user_pairing.config.SETTINGS` (the plugin). The source of ``sso/`` and
``user_pairing/`` is scanned with :mod:`ast` for ``config["KEY"]`` and
``config.get("KEY", ...)`` on any ``.config`` attribute (``app.config``,
``current_app.config``) or a variable named ``config``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sso.config import SETTINGS as HUB_SETTINGS
from sso.config import Setting
from user_pairing.config import SETTINGS as PLUGIN_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
LOADER = "sso/config.py"  # reads keys by name from the declarations, never by literal

# Keys Flask or an extension owns and documents: code may read them without declaring them.
FOREIGN_KEYS = frozenset({"TESTING", "DEBUG", "SERVER_NAME", "PREFERRED_URL_SCHEME"})
FOREIGN_PREFIXES = ("SQLALCHEMY_", "WTF_", "SESSION_", "REMEMBER_")

# Which declarations each package may read: the hub never depends on the plugin's keys.
DECLARED_FOR = {
    "sso": {s.key for s in HUB_SETTINGS},
    "user_pairing": {s.key for s in (*HUB_SETTINGS, *PLUGIN_SETTINGS)},
}


@dataclass(frozen=True)
class Read:
    """One read of a configuration key: ``where`` is ``path:line``; ``key`` None when not a literal."""

    where: str
    key: str | None
    inline_default: bool


def _is_config(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "config") or (
        isinstance(node, ast.Name) and node.id == "config"
    )


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def config_reads(source: str, where: str) -> Iterator[Read]:
    """Every ``config[...]`` and ``config.get/setdefault/pop(...)`` in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and _is_config(node.value):
            yield Read(f"{where}:{node.lineno}", _literal(node.slice), False)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"get", "setdefault", "pop"}
            and _is_config(node.func.value)
        ):
            key = _literal(node.args[0]) if node.args else None
            yield Read(f"{where}:{node.lineno}", key, len(node.args) > 1 or bool(node.keywords))


def foreign(key: str) -> bool:
    """A key Flask or an extension owns."""
    return key in FOREIGN_KEYS or key.startswith(FOREIGN_PREFIXES)


def package_reads(package: str) -> list[Read]:
    """The configuration reads of every module of ``package`` (a folder of the repository)."""
    reads: list[Read] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        reads.extend(config_reads(path.read_text(encoding="utf-8"), where))
    return reads


def problems(reads: Iterable[Read], declared: set[str], loader: str = LOADER) -> list[str]:
    """What is wrong with ``reads``: undeclared keys, keys not given literally, inline defaults."""
    found = []
    for read in reads:
        if read.key is None:
            if not read.where.startswith(loader + ":"):
                found.append(f"{read.where}: configuration key is not a literal, so it cannot be checked")
        elif read.key not in declared and not foreign(read.key):
            found.append(f"{read.where}: {read.key} is not declared in SETTINGS")
        if read.inline_default:
            found.append(f"{read.where}: inline default for {read.key}: declare the default in SETTINGS")
    return found


def readme_rows(settings: Iterable[Setting]) -> list[str]:
    """The README rows of ``settings``: one per variable (its first setting), one per code-only key."""
    rows, variables = [], set()
    for setting in settings:
        if setting.env is not None:
            if setting.env in variables:
                continue
            variables.add(setting.env)
        rows.append(setting.markdown_row())
    return rows


def configuration_section(readme: str) -> str:
    """The text of the README's "## Configuration" section."""
    start = readme.index("\n## Configuration\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def table_differences(section: str, expected: list[str]) -> tuple[list[str], list[str]]:
    """(rows missing from the section's tables, table rows of the section not declared)."""
    present = {line.strip() for line in section.splitlines() if line.startswith("| `")}
    missing = [row for row in expected if row not in present]
    stale = sorted(present - set(expected))
    return missing, stale


# -- the checks -------------------------------------------------------------------------------------


def test_every_key_read_is_declared_and_read_without_a_default() -> None:
    found: list[str] = []
    for package, declared in DECLARED_FOR.items():
        reads = package_reads(package)
        assert reads, f"no configuration read found in {package}/: is the scan broken?"
        found += problems(reads, declared)
    assert found == [], "\n".join(found)


def test_readme_table_lists_every_setting() -> None:
    section = configuration_section(README.read_text(encoding="utf-8"))
    missing, stale = table_differences(section, readme_rows((*HUB_SETTINGS, *PLUGIN_SETTINGS)))
    assert not missing, "README Configuration section lacks or has outdated rows; paste:\n" + "\n".join(missing)
    assert not stale, "README Configuration rows not declared in SETTINGS:\n" + "\n".join(stale)


def test_keys_and_variables_are_declared_once() -> None:
    settings = (*HUB_SETTINGS, *PLUGIN_SETTINGS)
    keys = [s.key for s in settings]
    assert len(keys) == len(set(keys))
    owners: dict[str, str] = {}
    for setting in settings:
        if setting.env is not None:
            owner = owners.setdefault(setting.env, setting.key)
            # only SSO_SECRET_KEY feeds two keys: the newest one and the older ones
            assert owner == setting.key or (owner, setting.key) == ("SECRET_KEY", "SECRET_KEY_FALLBACKS")
    assert all(s.env and s.env.startswith("SSO_PAIRING_") for s in PLUGIN_SETTINGS)


# -- the checks can fail ----------------------------------------------------------------------------

SAMPLE = '''
from flask import current_app

def view(app, key):
    a = current_app.config["DECLARED"]
    b = app.config.get("UNDECLARED")
    c = current_app.config.get("DECLARED", 50)
    config = app.config
    d = config["ALSO_UNDECLARED"]
    e = config[key]
    f = app.config["SESSION_COOKIE_NAME"]
    g = other["NOT_CONFIG"]
    h = settings.get("NOT_CONFIG", 1)
'''


def test_scan_finds_undeclared_keys_and_inline_defaults() -> None:
    reads = list(config_reads(SAMPLE, "sample.py"))
    assert [(r.key, r.inline_default) for r in sorted(reads, key=lambda r: int(r.where.split(":")[1]))] == [
        ("DECLARED", False), ("UNDECLARED", False), ("DECLARED", True), ("ALSO_UNDECLARED", False),
        (None, False), ("SESSION_COOKIE_NAME", False),
    ]
    assert problems(reads, {"DECLARED"}) == [
        "sample.py:6: UNDECLARED is not declared in SETTINGS",
        "sample.py:7: inline default for DECLARED: declare the default in SETTINGS",
        "sample.py:9: ALSO_UNDECLARED is not declared in SETTINGS",
        "sample.py:10: configuration key is not a literal, so it cannot be checked",
    ]
    assert problems(reads, {"DECLARED", "UNDECLARED", "ALSO_UNDECLARED"}, loader="sample.py") == [
        "sample.py:7: inline default for DECLARED: declare the default in SETTINGS",
    ]


def test_readme_check_finds_missing_outdated_and_stale_rows() -> None:
    expected = readme_rows((*HUB_SETTINGS, *PLUGIN_SETTINGS))
    section = configuration_section(README.read_text(encoding="utf-8"))
    cache_row = next(row for row in expected if row.startswith("| `SSO_APP_CACHE_TTL` |"))
    without = section.replace(cache_row + "\n", "")
    assert table_differences(without, expected) == ([cache_row], [])
    outdated = section.replace(cache_row, cache_row.replace("| `2` |", "| `5` |"))
    assert table_differences(outdated, expected) == ([cache_row], [cache_row.replace("| `2` |", "| `5` |")])
    extra = section + "\n| `SSO_NOT_A_SETTING` | int | `1` | gone |\n"
    assert table_differences(extra, expected) == ([], ["| `SSO_NOT_A_SETTING` | int | `1` | gone |"])
