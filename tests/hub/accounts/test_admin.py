"""Admin pages for users."""

from __future__ import annotations

import re

from sso.accounts.service import authenticate, find_user
from sso.audit.models import AuditEvent
from sso.base.db import db


def _link(page: bytes) -> str:
    match = re.search(rb'value="(http[^"]*/set-password/[^"]+)"', page)
    assert match, page
    return match.group(1).decode().split("://", 1)[1].split("/", 1)[1]


def test_only_admins(client, auth) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/admin/users/").headers["Location"].startswith("/login")
    auth.login()
    for url in ("/admin/users/", "/admin/users/new", "/admin/users/1", "/admin/audit/"):
        response = client.get(url)
        assert response.status_code == 403 and b"administrators" in response.data
    assert client.post("/admin/users/1/reset-password").status_code == 403


def test_list_search_and_paging(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import create_user

    app.config["USERS_PER_PAGE"] = 5
    with app.app_context():
        for i in range(11):
            create_user(f"zed{i:02d}", f"zed{i:02d}@example.com")
    auth.login_admin()
    page = client.get("/admin/users/?q=zed").data.decode()
    assert "Page 1 of 3 (11 in all)" in page and "zed00" in page and "zed05" not in page
    page3 = client.get("/admin/users/?q=zed&page=3").data.decode()
    assert "zed10" in page3
    for bad in ("abc", "-4", "99999999999999999999", ""):
        assert client.get(f"/admin/users/?page={bad}").status_code == 200
    assert "<script>" not in client.get("/admin/users/?q=<script>").data.decode()


def test_add_user_gives_set_password_link(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    response = client.post("/admin/users/new", data={"login": "newbie", "email": "newbie@example.com",
                                                     "name": "New B", "active": "y"})
    assert response.status_code == 200
    path = _link(response.data)
    auth.logout()
    assert client.post("/" + path, data={"password": "newbie-pass-1", "confirm": "newbie-pass-1"}).status_code == 302
    assert auth.login("newbie", "newbie-pass-1").status_code == 302


def test_add_user_errors(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    dup = client.post("/admin/users/new", data={"login": "Ann", "email": "x@example.com", "active": "y"})
    assert dup.status_code == 400 and b"already exists" in dup.data
    bad = client.post("/admin/users/new", data={"login": "", "email": "nope"})
    assert bad.status_code == 400


def test_edit_deactivate_and_reset(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        ann_id = find_user("ann").id
    auth.login_admin()
    saved = client.post(f"/admin/users/{ann_id}", data={"login": "ann", "email": "ann.new@example.com",
                                                       "name": "Ann N", "active": "y"})
    assert saved.status_code == 302
    with app.app_context():
        assert find_user("ann").email == "ann.new@example.com"
        changes = db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == "user_changed")).all()
        assert "ann.new@example.com" in changes[-1].detail["email"]
    assert client.post(f"/admin/users/{ann_id}/deactivate").status_code == 302
    with app.app_context():
        assert not find_user("ann").active
    reset = client.post(f"/admin/users/{ann_id}/reset-password")
    assert reset.status_code == 200
    assert client.get("/admin/users/99999").status_code == 404
    assert client.get("/admin/users/abc").status_code == 404


def test_reset_link_replaces_the_password(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        ann_id = find_user("ann").id
    auth.login_admin()
    path = _link(client.post(f"/admin/users/{ann_id}/reset-password").data)
    auth.logout()
    assert client.post("/" + path, data={"password": "brand-new-pass", "confirm": "brand-new-pass"}).status_code == 302
    with app.app_context():
        assert authenticate("ann", "brand-new-pass").login == "ann"


def test_admin_cannot_lock_themselves_out(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        admin_id = find_user("admin").id
    auth.login_admin()
    drop = client.post(f"/admin/users/{admin_id}", data={"login": "admin", "email": "admin@example.com", "active": "y"})
    assert drop.status_code == 400 and b"cannot deactivate yourself" in drop.data
    assert client.post(f"/admin/users/{admin_id}/deactivate").status_code == 400
    with app.app_context():
        admin = find_user("admin")
        assert admin.active and admin.is_admin


def test_deactivation_asks_first(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        ann_id = find_user("ann").id
    auth.login_admin()
    edit = client.get(f"/admin/users/{ann_id}").get_data(as_text=True)
    assert f'href="/admin/users/{ann_id}/deactivate"' in edit  # a link to the confirm step, not a POST button
    assert f'action="/admin/users/{ann_id}/deactivate"' not in edit
    confirm = client.get(f"/admin/users/{ann_id}/deactivate")
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Deactivate ann?" in page and "can no longer log in" in page
    assert f'action="/admin/users/{ann_id}/deactivate"' in page and f'href="/admin/users/{ann_id}">Cancel' in page
    with app.app_context():
        assert find_user("ann").active  # looking at the confirm step changes nothing
    assert client.post(f"/admin/users/{ann_id}/deactivate").status_code == 302
    with app.app_context():
        assert not find_user("ann").active


def test_saving_the_edit_form_never_deactivates(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        ann_id = find_user("ann").id
    auth.login_admin()
    assert 'name="active"' not in client.get(f"/admin/users/{ann_id}").get_data(as_text=True)
    client.post(f"/admin/users/{ann_id}", data={"login": "ann", "email": "ann@example.com"})  # no "active"
    with app.app_context():
        assert find_user("ann").active


def test_reactivate_button(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        ann_id = find_user("ann").id
    auth.login_admin()
    client.post(f"/admin/users/{ann_id}/deactivate")
    page = client.get(f"/admin/users/{ann_id}").get_data(as_text=True)
    assert f'action="/admin/users/{ann_id}/reactivate"' in page and ">Reactivate</button>" in page
    assert client.post(f"/admin/users/{ann_id}/reactivate").status_code == 302
    with app.app_context():
        assert find_user("ann").active
        changes = db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == "user_changed")).all()
        assert changes[-1].detail == {"active": "False -> True"}
    auth.logout()
    assert auth.login("ann").status_code == 302  # can log in again
    auth.logout()
    auth.login()
    assert client.post(f"/admin/users/{ann_id}/reactivate").status_code == 403
