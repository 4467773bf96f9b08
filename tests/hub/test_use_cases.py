"""Use cases own the transaction and the audit row: one commit per action, rules in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
