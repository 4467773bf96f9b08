"""``flask --app wsgi groups ...`` through Click's runner, and once through the real command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sso.accounts.service import find_user
from sso.audit.models import AuditEvent
from sso.base.db import db
from sso.connected_apps.service import get_app
from sso.groups import user_groups
from sso.groups.access import access_policy

ROOT = Path(__file__).resolve().parents[3]


def test_create_add_remove_list(app, runner) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(args=["groups", "list"]).output.strip() == "No groups yet."
    created = runner.invoke(args=["groups", "create", " Finance "])
    assert created.exit_code == 0 and "Created group Finance." in created.output
    clash = runner.invoke(args=["groups", "create", "FINANCE"])
    assert clash.exit_code != 0 and "already exists" in clash.output and "Traceback" not in clash.output
    added = runner.invoke(args=["groups", "add-member", "finance", "ann"])
    assert added.exit_code == 0 and "Added ann to Finance." in added.output
    assert "already is in Finance" in runner.invoke(args=["groups", "add-member", "Finance", "ann"]).output
    assert runner.invoke(args=["groups", "add-member", "Finance", "admin@example.com"]).exit_code == 0
    assert runner.invoke(args=["groups", "list"]).output.strip() == "Finance\t2 members"
    with app.app_context():
        assert user_groups(find_user("ann")) == ["Finance"]
    removed = runner.invoke(args=["groups", "remove-member", "Finance", "ann"])
    assert removed.exit_code == 0 and "Removed ann from Finance." in removed.output
    with app.app_context():
        assert user_groups(find_user("ann")) == []
        actors = {e.actor for e in db.session.scalars(db.select(AuditEvent))}
        assert actors == {"cli"}
    for args, message in [
        (["groups", "add-member", "Nope", "ann"], "No such group."),
        (["groups", "add-member", "Finance", "nobody"], "No user 'nobody'."),
        (["groups", "create", ""], "The group name is required."),
    ]:
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)


def test_rename_delete_and_app_access(app, runner, connected_app) -> None:  # type: ignore[no-untyped-def]
    runner.invoke(args=["groups", "create", "Finance"])
    assert "Renamed to Accounting." in runner.invoke(args=["groups", "rename", "Finance", "Accounting"]).output
    shown = runner.invoke(args=["groups", "app-access", "invoices"])
    assert shown.output.strip() == "Invoices is open to: everyone"
    limited = runner.invoke(args=["groups", "app-access", "invoices", "--group", "accounting"])
    assert limited.exit_code == 0 and limited.output.strip() == "Invoices is open to: Accounting"
    bad = runner.invoke(args=["groups", "app-access", "invoices", "--group", "Nope"])
    assert bad.exit_code != 0 and "No group named 'Nope'" in bad.output
    both = runner.invoke(args=["groups", "app-access", "invoices", "--group", "x", "--everyone"])
    assert both.exit_code != 0
    assert "Deleted group Accounting" in runner.invoke(args=["groups", "delete", "Accounting"]).output
    with app.app_context():
        assert access_policy(get_app("invoices")).groups == []  # still restricted: to nobody
    assert "nobody" in runner.invoke(args=["groups", "app-access", "invoices"]).output
    opened = runner.invoke(args=["groups", "app-access", "invoices", "--everyone"])
    assert opened.output.strip() == "Invoices is open to: everyone"


def test_the_real_flask_command(tmp_path: Path) -> None:
    """``flask --app wsgi groups create NAME`` and ``add-member``, exactly as documented."""
    env = {"PATH": "/usr/bin:/bin", "SSO_INSTANCE_PATH": str(tmp_path),
           "SSO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    flask = str(Path(sys.executable).parent / "flask")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([flask, "--app", "wsgi", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    assert run("db", "upgrade").returncode == 0
    assert run("users", "create", "ann", "ann@example.com").returncode == 0
    assert run("groups", "create", "Finance").stdout.strip() == "Created group Finance."
    assert run("groups", "add-member", "Finance", "ann").stdout.strip() == "Added ann to Finance."
    assert run("groups", "list").stdout.strip() == "Finance\t1 member"
    assert run("groups", "remove-member", "Finance", "ann").stdout.strip() == "Removed ann from Finance."
