"""Per-app access: the menu, the jump and the service-initiated login follow the app's groups;
tokens carry the user's groups."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from sso.accounts.service import find_user
from sso.audit.models import AuditEvent
from sso.base.db import db
from sso.connected_apps.service import create_connected_app, get_app, set_secret
from sso.groups import may_open, visible_apps
from sso.groups.access import set_app_access
from sso.groups.service import add_member, create_group, delete_group, find_group
from sso.multipass import MultipassCodec

BOTH = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
PREFIX = "https://invoices.example/login/multipass/"
DENIED = "You don&#39;t have access to Invoices. Ask your administrator."


def _events(app, name: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == name)))


def _restrict(app, *groups: str) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        for name in groups:
            if find_group(name) is None:
                create_group(name)
        set_app_access(get_app("invoices"), list(groups))


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_open_to_everyone_by_default(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    assert 'data-app="invoices"' in client.get("/").get_data(as_text=True)
    assert client.get("/sso/jump/invoices").status_code == 302


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_outside_the_groups_no_menu_entry_and_access_denied(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    _restrict(app, "Finance")
    auth.login()
    home = client.get("/").get_data(as_text=True)
    assert 'data-app="invoices"' not in home and "/sso/jump/invoices" not in home
    assert "No apps are available to you yet." in home
    response = client.get("/sso/jump/invoices?return_to=/x")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert ">Access denied</h1>" in page and DENIED in page
    assert "Location" not in response.headers
    service = client.get("/sso/multipass/invoices?login_url=https://invoices.example/login")
    assert service.status_code == 403 and DENIED in service.get_data(as_text=True)
    denied = _events(app, "access_denied")
    assert [(e.app_slug, e.detail["flow"], e.actor) for e in denied] == [("invoices", "jump", "ann"),
                                                                           ("invoices", "service", "ann")]
    assert _events(app, "jump") == []


def test_a_member_gets_in_and_the_token_carries_groups(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    slug, secret = connected_app
    _restrict(app, "Finance", "Sales")
    with app.app_context():
        create_group("Ünits")
        add_member(find_group("sales"), "ann")
        add_member(find_group("ünits"), "ann")
    auth.login()
    assert 'data-app="invoices"' in client.get("/").get_data(as_text=True)
    response = client.get(f"/sso/jump/{slug}")
    assert response.status_code == 302
    claims = MultipassCodec(secret).decode(unquote(response.headers["Location"][len(PREFIX):]))
    assert claims["groups"] == ["Sales", "Ünits"]


def test_a_token_of_a_user_without_groups_has_an_empty_list(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    slug, secret = connected_app
    auth.login()
    location = client.get(f"/sso/jump/{slug}").headers["Location"]
    assert MultipassCodec(secret).decode(unquote(location[len(PREFIX):]))["groups"] == []


def test_access_follows_changes_at_once(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    _restrict(app, "Finance")
    auth.login()
    assert client.get("/sso/jump/invoices").status_code == 403
    with app.app_context():
        add_member(find_group("Finance"), "ann")
    assert client.get("/sso/jump/invoices").status_code == 302
    with app.app_context():
        delete_group(find_group("Finance"))  # the app stays restricted, to nobody now
    assert client.get("/sso/jump/invoices").status_code == 403
    with app.app_context():
        set_app_access(get_app("invoices"), None)
    assert client.get("/sso/jump/invoices").status_code == 302


def test_visible_apps_and_may_open(app, connected_app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        crm = create_connected_app("crm", "CRM", "https://crm.example/login/{token}")
        set_secret(crm)
        invoices = get_app("invoices")
        create_group("Finance")
        set_app_access(invoices, ["Finance"])
        ann, admin = find_user("ann"), find_user("admin")
        add_member(find_group("Finance"), admin)
        apps = [crm, invoices]
        assert visible_apps(ann, apps) == [crm]
        assert visible_apps(admin, apps) == [crm, invoices]
        assert may_open(ann, crm) and not may_open(ann, invoices) and may_open(admin, invoices)


def test_set_app_access_is_audited_once_per_change(app, connected_app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        invoices = get_app("invoices")
        create_group("Finance")
        create_group("Sales")
        assert set_app_access(invoices, ["finance", "SALES"]) is True
        assert set_app_access(invoices, ["Sales", "Finance"]) is False
        assert set_app_access(invoices, []) is True
        assert set_app_access(invoices, None) is True
        assert set_app_access(invoices, None) is False
    changes = [(e.detail["from"], e.detail["to"]) for e in _events(app, "app_access_changed")]
    assert changes == [("everyone", "groups: Finance, Sales"), ("groups: Finance, Sales", "groups: (none)"),
                       ("groups: (none)", "everyone")]


def test_the_delete_confirmation_names_the_apps_limited_to_the_group(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    _restrict(app, "Finance")
    gid = _group_id(app, "Finance")
    auth.login_admin()
    page = client.get(f"/admin/groups/{gid}/delete").get_data(as_text=True)
    assert "open them only through another allowed group: Invoices." in page


def _group_id(app, name: str) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return find_group(name).id


def test_other_workers_follow_within_the_cache_ttl(app, client, auth, connected_app, clock) -> None:  # type: ignore[no-untyped-def]
    """The policies are cached per process for at most 2 s by the app's clock: a change made
    by another worker (rows written without telling this one) counts once the TTL has passed."""
    from sso.groups.models import AppAccess

    auth.login()
    assert client.get("/sso/jump/invoices").status_code == 302  # policies loaded: open
    with app.app_context():
        db.session.add(AppAccess(app_id=get_app("invoices").id))  # restricted to nobody, elsewhere
        db.session.commit()
    assert client.get("/sso/jump/invoices").status_code == 302  # this worker still has the old policy
    clock.advance(2.01)
    assert client.get("/sso/jump/invoices").status_code == 403


def test_with_the_cache_off_a_change_counts_at_once(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    from sso.groups.models import AppAccess

    app.config["APP_CACHE_TTL"] = 0
    auth.login()
    assert client.get("/sso/jump/invoices").status_code == 302
    with app.app_context():
        db.session.add(AppAccess(app_id=get_app("invoices").id))
        db.session.commit()
    assert client.get("/sso/jump/invoices").status_code == 403


def test_a_users_groups_are_cached_per_worker_within_the_ttl(app, client, auth, connected_app, clock) -> None:  # type: ignore[no-untyped-def]
    """Every jump needs the user's groups (access check and claim): kept per worker for at most
    2 s by the app's clock; a membership change made by another worker counts after that, one
    made through this worker at once."""
    from sso.groups.models import GroupMember

    _restrict(app, "Finance")
    auth.login()
    assert client.get("/sso/jump/invoices").status_code == 403  # ann's groups (none) now cached
    with app.app_context():
        finance = find_group("Finance")
        db.session.add(GroupMember(group_id=finance.id, user_id=find_user("ann").id))  # another worker
        db.session.commit()
    assert client.get("/sso/jump/invoices").status_code == 403  # this worker still has ann's old groups
    clock.advance(2.01)
    assert client.get("/sso/jump/invoices").status_code == 302
    with app.app_context():
        create_group("Sales")
        add_member(find_group("Sales"), "ann")  # through this worker: counts at once
    token = unquote(client.get("/sso/jump/invoices").headers["Location"].rsplit("/", 1)[1])
    _slug, plain = connected_app
    assert MultipassCodec(plain).decode(token)["groups"] == ["Finance", "Sales"]
