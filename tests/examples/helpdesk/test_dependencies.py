"""The helpdesk is any OpenID Connect app: it imports nothing from the hub."""

from __future__ import annotations

import ast
from pathlib import Path

HELPDESK = Path(__file__).resolve().parents[3] / "examples" / "helpdesk"


def test_helpdesk_imports_nothing_from_the_hub() -> None:
    found = []
    for path in HELPDESK.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [(path.name, n) for n in names if n.split(".")[0] in {"sso", "user_pairing"}]
    assert found == []
