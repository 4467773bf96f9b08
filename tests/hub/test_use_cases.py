"""Use cases own the transaction and the audit row: one commit per action, rules in one place."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from sso.accounts.service import create_user, deactivate_user, find_user, update_user
from sso.audit.models import AuditEvent
from sso.base.db import db, transaction
from sso.base.errors import ValidationError
from sso.connected_apps.service import add_app, get_app


@contextmanager
def commits() -> Iterator[list[int]]:
    """Count the commits of every session while the block runs."""
    seen: list[int] = []

    def count(_session: Session) -> None:
        seen.append(1)

    event.listen(Session, "after_commit", count)
    try:
        yield seen
    finally:
        event.remove(Session, "after_commit", count)


def _events() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.event).order_by(AuditEvent.id)))


def test_adding_an_app_with_its_secret_commits_once_with_its_audit_rows(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        with commits() as seen:
            capp, plain = add_app("crm", "CRM", "https://crm.example/login?multipass={token}", secret=None)
        assert len(seen) == 1
        assert _events() == ["app_created", "secret_set", "secret_revealed"]
        assert get_app("crm").secrets[0].state == "active" and len(plain) >= 32


def test_the_admin_page_adds_an_app_in_one_commit(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    with commits() as seen:
        response = client.post("/admin/apps/new", data={
            "slug": "crm", "name": "CRM", "login_url_template": "https://crm.example/login?multipass={token}",
            "allowed_origins": "", "token_lifetime": "900", "enabled": "y", "logout_url": "",
            "secret": "a pasted secret that is long enough",
        })
    assert response.status_code == 303  # post/redirect/get: the secret is shown once on the next page
    assert len(seen) == 1


def test_a_bad_pasted_secret_leaves_nothing_behind(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        with pytest.raises(ValidationError):
            add_app("crm", "CRM", "https://crm.example/login?multipass={token}", secret="short")
        assert _events() == []
        with pytest.raises(Exception, match="No connected app"):
            get_app("crm")


def test_a_failing_use_case_inside_another_rolls_both_back(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        with pytest.raises(ValidationError), transaction():
            create_user("zed", "zed@example.com")
            create_user("ann", "other@example.com")  # duplicate login: the whole unit fails
        assert find_user("zed") is None and _events() == []


def test_an_admin_cannot_lock_themself_out_whoever_calls(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        admin = find_user("admin")
        with pytest.raises(ValidationError, match="cannot deactivate yourself"):
            deactivate_user(admin, by=admin)
        with pytest.raises(ValidationError, match="admin rights"):
            update_user(admin, by=admin, is_admin=False)
        assert find_user("admin").active and _events() == []
        other = create_user("boss", "boss@example.com", admin=True)
        assert deactivate_user(admin, by=other) is True
        assert _events() == ["user_created", "user_changed"]



def _created(app, kind: str) -> list[str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return [e for e in _events() if e == kind]


def test_the_cli_records_each_creation_once(app, runner) -> None:  # type: ignore[no-untyped-def]
    user = runner.invoke(args=["users", "create", "bob", "bob@example.com"])
    added = runner.invoke(args=["apps", "add", "crm", "--name", "CRM", "--login-url",
                                "https://crm.example/login?multipass={token}"])
    assert user.exit_code == 0 and added.exit_code == 0, user.output + added.output
    assert _created(app, "user_created") == ["user_created"] and _created(app, "app_created") == ["app_created"]


def test_the_admin_pages_record_each_creation_once(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    user = client.post("/admin/users/new", data={"login": "newbie", "email": "newbie@example.com", "active": "y"})
    added = client.post("/admin/apps/new", data={
        "slug": "crm", "name": "CRM", "login_url_template": "https://crm.example/login?multipass={token}",
        "allowed_origins": "", "token_lifetime": "900", "enabled": "y", "logout_url": "", "secret": "",
    })
    assert user.status_code == 200 and added.status_code == 303
    assert _created(app, "user_created") == ["user_created"] and _created(app, "app_created") == ["app_created"]

# Views and CLI commands only parse input and map errors: no audit row, no transaction, no
# session write of their own. Checked on the source of every module that defines a route or
# a command (the same rule for the hub and the pairing plugin).

REPO = Path(__file__).resolve().parents[2]
ROUTE_DECORATORS = frozenset({"route", "get", "post", "put", "patch", "delete", "command"})
SESSION_WRITES = frozenset({"commit", "flush", "add", "add_all", "delete"})


def _is_entry_point(node: ast.AST) -> bool:
    """A function decorated with ``@bp.route(...)``, ``@bp.post(...)``, ``@group.command(...)``..."""
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in ROUTE_DECORATORS
        for d in node.decorator_list
    )


def _what_it_does(call: ast.Call) -> str | None:
    """Why ``call`` belongs in a use case, or None."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if name == "record":
        return "records an audit event"
    if name == "transaction":
        return "opens a transaction"
    if isinstance(func, ast.Attribute) and name in SESSION_WRITES and "session" in ast.unparse(func.value):
        return f"writes through the session ({name})"
    return None


def entry_point_writes(sources: dict[str, str]) -> list[str]:
    """``path:line: what`` for each audit row, transaction or session write in a module with
    routes or commands (anywhere in the module: a helper of the view counts too)."""
    found = []
    for path, source in sorted(sources.items()):
        tree = ast.parse(source, path)
        if not any(_is_entry_point(node) for node in ast.walk(tree)):
            continue
        calls = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset))
        found += [f"{path}:{n.lineno}: {why}: {ast.unparse(n)[:80]}" for n in calls if (why := _what_it_does(n))]
    return found


def test_views_and_cli_leave_writes_and_audit_rows_to_use_cases() -> None:
    sources = {
        str(path.relative_to(REPO)): path.read_text(encoding="utf-8")
        for root in ("sso", "user_pairing")
        for path in sorted((REPO / root).rglob("*.py"))
        if "migrations" not in path.parts
    }
    found = entry_point_writes(sources)
    assert not found, "views/CLI doing a use case's work:\n" + "\n".join(found)


def test_the_boundary_check_can_fail() -> None:
    view = (
        "@bp.post('/x')\n"
        "def x():\n"
        "    with transaction():\n"
        "        record('factor_ok')\n"
        "    db.session.commit()\n"
    )
    assert [line.split(": ")[1] for line in entry_point_writes({"v.py": view})] == [
        "opens a transaction", "records an audit event", "writes through the session (commit)",
    ]
    helper_only = "def helper():\n    record('factor_ok')\n"
    assert entry_point_writes({"service.py": helper_only}) == []
