"""Departments on the pairing page: the app's SCIM Groups, the department column and mismatch,
and its fixes (change in the app by SCIM PATCH, or in the hub), each confirmed and audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from sso.accounts.service import create_user, find_user
from sso.audit.models import AuditEvent
from sso.base.db import db
from sso.connected_apps.service import get_app
from sso.groups import user_groups
from sso.groups.service import add_member, create_group, find_group
from user_pairing import service
from user_pairing.departments import DepartmentIndex
from user_pairing.errors import SourceError
from user_pairing.matching import DirectoryUser, PairingRow, Status
from user_pairing.sources import DirectoryGroup, ScimSource

from .directory_server import TOKEN, Directories
from .helpers import refresh, set_directory

FIX = re.compile(r'name="key" value="([0-9a-f]+)">\s*<button type="submit">Fix departments…</button>')
DEPT_COUNT = re.compile(r'<span class="count department-count">(\d+)</span>')


# -- the SCIM source ------------------------------------------------------------------------


def test_scim_groups_are_read_page_by_page(base_url: str, directories: Directories) -> None:
    source = ScimSource(f"{base_url}/scim", TOKEN, page_size=2)
    groups = source.fetch_groups()
    assert groups == [DirectoryGroup("g1", "Finance", ("u1", "u2")), DirectoryGroup("g2", "Sales", ("u3",)),
                      DirectoryGroup("g3", "Warehouse", ())]
    assert [r for r in directories.requests if r.startswith("/scim/Groups")] == [
        "/scim/Groups?startIndex=1&count=2", "/scim/Groups?startIndex=3&count=2"]


def test_a_directory_without_groups_and_failing_groups(base_url: str) -> None:
    assert ScimSource(f"{base_url}/short", TOKEN).fetch_groups() is None  # no /Groups: HTTP 404
    with pytest.raises(SourceError) as err:
        ScimSource(f"{base_url}/scim", "wrong").fetch_groups()
    assert err.value.kind == "unauthorized"
    with pytest.raises(SourceError) as err:
        ScimSource(f"{base_url}/s500groups", TOKEN).fetch_groups()
    assert err.value.kind == "server_error"


def test_change_members_is_one_scim_patch(base_url: str, directories: Directories) -> None:
    source = ScimSource(f"{base_url}/scim", TOKEN)
    source.change_members("g1", add=["u5"], remove=["u1"])
    assert [m["value"] for m in directories.groups[0]["members"]] == ["u2", "u5"]
    with pytest.raises(SourceError) as err:
        source.change_members("g1", add=["no-such-user"], remove=[])
    assert err.value.kind == "rejected"
    with pytest.raises(SourceError) as err:
        source.change_members("nope", add=["u1"], remove=[])
    assert err.value.kind == "not_found"


# -- the comparison (pure) --------------------------------------------------------------------


def _row(hub_ref: str, app_ref: str) -> PairingRow:
    return PairingRow(Status.PAIRED, DirectoryUser("x", "x@e.com", ref=hub_ref),
                      DirectoryUser("x", "x@e.com", ref=app_ref), "")


def test_departments_compare_by_normalised_name_over_shared_groups() -> None:
    index = DepartmentIndex(
        ["Finance", "Sales", "IT"],
        {"1": ["Finance", "IT"], "2": ["Sales"], "3": []},
        [DirectoryGroup("g1", " finance", ("a1",)), DirectoryGroup("g2", "SALES", ("a1", "a3")),
         DirectoryGroup("g3", "Warehouse", ("a2",))],
    )
    same = index.of(_row("1", "a1x"))  # app user in no group
    assert same.mismatch and same.add_in_app == (" finance",) and same.remove_in_app == ()
    assert same.remove_in_hub == ("Finance",) and same.add_in_hub == ()
    ok = index.of(_row("2", "a3"))  # Sales / SALES: agree; IT and Warehouse never compared
    assert not ok.mismatch and ok.hub == ("Sales",) and ok.app == ("SALES",)
    both = index.of(_row("1", "a1"))
    assert both.add_in_app == () and both.remove_in_app == ("SALES",)
    assert both.add_in_hub == ("Sales",) and both.hub == ("Finance", "IT")
    assert not index.of(_row("3", "a2")).mismatch  # Warehouse is unknown to the hub
    for hub_ref, app_ref in (("1", "a1x"), ("2", "a3"), ("1", "a1"), ("3", "a2"), ("9", "a1"), ("2", "a9")):
        assert index.mismatch(_row(hub_ref, app_ref)) == index.of(_row(hub_ref, app_ref)).mismatch
    unknown = DepartmentIndex(["Finance"], {"1": ["Finance"]}, None).of(_row("1", "a1"))
    assert not unknown.known and not unknown.mismatch


# -- the page and the fixes -------------------------------------------------------------------


@pytest.fixture()
def dept_hub(demo_hub, base_url: str, directories: Directories):  # type: ignore[no-untyped-def]
    """Hub users user1..user3 paired with the directory's u1..u3. In the hub: user1 in Finance
    (agrees) and IT (unknown to the app), user2 in Sales (the app has Finance), user3 in none
    (the app has Sales). Directory configured and refreshed."""
    with demo_hub.app_context():
        for i, email in ((1, "user1@example.com"), (2, "user2@example.com"), (3, "first3@example.com")):
            create_user(f"user{i}", email)
        for name in ("Finance", "Sales", "IT"):
            create_group(name)
        add_member(find_group("Finance"), "user1")
        add_member(find_group("IT"), "user1")
        add_member(find_group("Sales"), "user2")
    set_directory(demo_hub, "scim", f"{base_url}/scim", TOKEN)
    refresh(demo_hub)
    return demo_hub


def _events(app, name: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)))


def test_refresh_stores_the_apps_groups(dept_hub) -> None:  # type: ignore[no-untyped-def]
    with dept_hub.app_context():
        snapshot = service.get_snapshot(get_app("invoices"))
        assert [g.name for g in snapshot.groups()] == ["Finance", "Sales", "Warehouse"]
    assert _events(dept_hub, "pairing_refreshed")[-1].detail["groups"] == 3


def test_a_failing_groups_endpoint_fails_the_refresh_and_keeps_the_snapshot(dept_hub, base_url) -> None:  # type: ignore[no-untyped-def]
    set_directory(dept_hub, "scim", f"{base_url}/s500groups", TOKEN)
    with pytest.raises(SourceError):
        refresh(dept_hub)
    with dept_hub.app_context():
        snapshot = service.get_snapshot(get_app("invoices"))
        assert snapshot.error_kind == "server_error" and len(snapshot.groups()) == 3


def test_page_shows_departments_and_mismatches(dept_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get("/admin/pairing/invoices").get_data(as_text=True)
    assert "<th>Departments</th>" in page
    assert DEPT_COUNT.findall(page) == ["2"]
    assert page.count('data-department="mismatch"') == 2 and len(FIX.findall(page)) == 2
    only = admin_client.get("/admin/pairing/invoices?dept=mismatch").get_data(as_text=True)
    assert "user2@example.com" in only and "first3@example.com" in only and "user1@example.com" not in only


def _key_of(client, login_email: str) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/admin/pairing/invoices?dept=mismatch&q=" + login_email).get_data(as_text=True)
    (key,) = FIX.findall(page)
    return key


def test_confirmation_shows_the_exact_change(dept_hub, admin_client, directories) -> None:  # type: ignore[no-untyped-def]
    key = _key_of(admin_client, "user2@example.com")
    before = [dict(g) for g in directories.groups]
    page = admin_client.post("/admin/pairing/invoices/department", data={"key": key}).get_data(as_text=True)
    assert "Add user2 to <strong>Sales</strong> in Invoices" in page
    assert "Remove user2 from <strong>Finance</strong> in Invoices" in page
    assert "Add user2 to <strong>Finance</strong> in the hub" in page
    assert "Remove user2 from <strong>Sales</strong> in the hub" in page
    assert directories.groups == before  # nothing changed yet
    assert _events(dept_hub, "pairing_department_fixed") == []


def test_change_in_the_app_patches_its_groups_and_the_row_agrees_at_once(dept_hub, admin_client, directories) -> None:  # type: ignore[no-untyped-def]
    key = _key_of(admin_client, "user2@example.com")
    done = admin_client.post("/admin/pairing/invoices/department",
                             data={"key": key, "side": "app", "confirm": "1"}, follow_redirects=True)
    assert "Departments of user2 changed in Invoices." in done.get_data(as_text=True)
    members = {g["displayName"]: [m["value"] for m in g["members"]] for g in directories.groups}
    assert members == {"Finance": ["u1"], "Sales": ["u3", "u2"], "Warehouse": []}
    patches = [r for r in directories.requests if r.startswith("/scim/Groups/")]
    assert [p.rstrip("?") for p in patches] == ["/scim/Groups/g2", "/scim/Groups/g1"]
    page = admin_client.get("/admin/pairing/invoices").get_data(as_text=True)
    assert DEPT_COUNT.findall(page) == ["1"]  # user2 agrees now, before any refresh
    (event,) = _events(dept_hub, "pairing_department_fixed")
    assert event.detail == {"side": "app", "login": "user2", "app_ref": "u2", "added": "Sales", "removed": "Finance"}


def test_change_in_the_hub_sets_the_users_groups(dept_hub, admin_client, directories) -> None:  # type: ignore[no-untyped-def]
    key = _key_of(admin_client, "first3@example.com")
    done = admin_client.post("/admin/pairing/invoices/department",
                             data={"key": key, "side": "hub", "confirm": "1"}, follow_redirects=True)
    assert "Departments of user3 changed in the hub." in done.get_data(as_text=True)
    with dept_hub.app_context():
        assert user_groups(find_user("user3")) == ["Sales"]
    (event,) = _events(dept_hub, "pairing_department_fixed")
    assert event.detail["side"] == "hub" and event.detail["added"] == "Sales" and event.detail["removed"] == ""
    assert [e.detail["group"] for e in _events(dept_hub, "group_member_added")][-1] == "Sales"
    page = admin_client.get("/admin/pairing/invoices").get_data(as_text=True)
    assert DEPT_COUNT.findall(page) == ["1"]
    # user2 keeps IT, a group the app does not know, when their departments follow the app's
    with dept_hub.app_context():
        add_member(find_group("IT"), "user2")
    key = _key_of(admin_client, "user2@example.com")
    admin_client.post("/admin/pairing/invoices/department", data={"key": key, "side": "hub", "confirm": "1"})
    with dept_hub.app_context():
        assert user_groups(find_user("user2")) == ["Finance", "IT"]


def test_a_row_without_mismatch_has_no_fix(dept_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get("/admin/pairing/invoices?q=user1@example.com").get_data(as_text=True)
    assert FIX.findall(page) == []
    refused = admin_client.post("/admin/pairing/invoices/department",
                                data={"key": "0" * 32, "side": "app", "confirm": "1"}, follow_redirects=True)
    assert "no department mismatch" in refused.get_data(as_text=True)
    assert admin_client.post("/admin/pairing/invoices/department", data={}).status_code == 400


def test_a_failed_patch_is_reported_and_audited(dept_hub, admin_client, directories) -> None:  # type: ignore[no-untyped-def]
    key = _key_of(admin_client, "user2@example.com")
    directories.users = [u for u in directories.users if u["id"] != "u2"]  # the app now refuses u2
    done = admin_client.post("/admin/pairing/invoices/department",
                             data={"key": key, "side": "app", "confirm": "1"}, follow_redirects=True)
    assert "Departments not changed" in done.get_data(as_text=True)
    (failed,) = _events(dept_hub, "pairing_fix_failed")
    assert failed.detail["fix"] == "department_in_app" and failed.detail["kind"] == "rejected"
    assert _events(dept_hub, "pairing_department_fixed") == []


def test_a_directory_without_groups_shows_no_department_mismatch(demo_hub, admin_client, base_url) -> None:  # type: ignore[no-untyped-def]
    set_directory(demo_hub, "json", f"{base_url}/json/users", TOKEN)
    refresh(demo_hub)
    page = admin_client.get("/admin/pairing/invoices").get_data(as_text=True)
    assert "department mismatch" not in page and DEPT_COUNT.findall(page) == []


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_pairing_pages_fit_the_screen(dept_hub, browser, width: int) -> None:  # type: ignore[no-untyped-def]
    """The pairing page with its department column, and the confirmation, at 1280 and 390 px."""
    from pathlib import Path

    from tests.conftest import HUB_ADMIN_PASSWORD

    from .directory_server import serve

    shots = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with serve(dept_hub) as base:
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        try:
            page.goto(f"{base}/login")
            page.fill("input[name=login]", "admin")
            page.fill("input[name=password]", HUB_ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{base}/admin/pairing/invoices?dept=mismatch")
            page.screenshot(path=str(shots / f"pairing-departments-{width}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
            page.click("text=Fix departments…")
            page.wait_for_selector(".department-confirm")
            page.screenshot(path=str(shots / f"pairing-department-confirm-{width}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        finally:
            context.close()


# -- exports ----------------------------------------------------------------------------------


def _by_login(rows: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {r["hub_login"]: r for r in rows if r["hub_login"]}


def test_json_export_has_the_department_columns(dept_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    import json

    rows = _by_login(json.loads(admin_client.get("/admin/pairing/invoices.json").get_data(as_text=True)))
    user1, user2 = rows["user1"], rows["user2"]
    assert user1["hub_departments"] == ["Finance", "IT"] and user1["app_departments"] == ["Finance"]
    assert user1["department_status"] == "match"  # IT is unknown to the app: not compared
    assert user2["hub_departments"] == ["Sales"] and user2["app_departments"] == ["Finance"]
    assert user2["department_status"] == "mismatch"
    alone = [r for r in rows.values() if r["app_login"] is None]
    assert alone and all(r["department_status"] is None for r in alone)  # nothing to compare with


def test_csv_export_and_cli_have_the_department_columns(dept_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io

    text = admin_client.get("/admin/pairing/invoices.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[-3:] == ["hub_departments", "app_departments", "department_status"]
    user1 = next(r for r in rows if r["hub_login"] == "user1")
    assert (user1["hub_departments"], user1["app_departments"], user1["department_status"]) == (
        "Finance; IT", "Finance", "match")
    assert next(r for r in rows if r["hub_login"] == "user2")["department_status"] == "mismatch"

    runner = dept_hub.test_cli_runner()
    result = runner.invoke(args=["pairing", "report", "invoices", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert list(csv.DictReader(io.StringIO(result.output))) == rows
    result = runner.invoke(args=["pairing", "report", "invoices", "--format", "json"])
    assert result.exit_code == 0, result.output
    import json

    assert _by_login(json.loads(result.output))["user2"]["department_status"] == "mismatch"


def test_exports_without_known_app_groups_have_no_department_columns(demo_hub, admin_client, base_url) -> None:  # type: ignore[no-untyped-def]
    import json

    set_directory(demo_hub, "scim", f"{base_url}/short", TOKEN)  # a directory without /Groups
    refresh(demo_hub)
    rows = json.loads(admin_client.get("/admin/pairing/invoices.json").get_data(as_text=True))
    assert rows and all("department_status" not in r for r in rows)
    header = admin_client.get("/admin/pairing/invoices.csv").get_data(as_text=True).splitlines()[0]
    assert "department" not in header
