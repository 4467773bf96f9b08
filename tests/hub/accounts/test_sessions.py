"""Server-side session records: one session ends alone, password change and deactivation
end them all, last seen is written at most once a minute, the account page lists them."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import HUB_USER_PASSWORD

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) " \
        "Version/17.0 Mobile/15E148 Safari/604.1"
LAPTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"


def _browser(app, user_agent: str, ip: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": user_agent, "REMOTE_ADDR": ip})
    return client


def _login(client, login: str = "ann", password: str = HUB_USER_PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"login": login, "password": password})


def _rows(app) -> list:  # type: ignore[no-untyped-def]
    from sso.accounts.factor_models import UserSession
    from sso.base.db import db

    with app.app_context():
        return list(db.session.scalars(sa.select(UserSession).order_by(UserSession.created_at)))


def test_account_page_lists_sessions_with_device_and_ip(app) -> None:  # type: ignore[no-untyped-def]
    phone, laptop = _browser(app, PHONE, "10.0.0.7"), _browser(app, LAPTOP, "10.0.0.8")
    _login(phone)
    _login(laptop)
    html = laptop.get("/account/").get_data(as_text=True)
    assert "Mobile Safari 17 on iOS (iPhone)" in html and "10.0.0.7" in html
    assert "Chrome 120 on Linux" in html and "10.0.0.8" in html
    assert html.count(">this browser<") == 1


def test_sign_out_one_session_leaves_the_others(app) -> None:  # type: ignore[no-untyped-def]
    phone, laptop = _browser(app, PHONE), _browser(app, LAPTOP)
    _login(phone)
    _login(laptop)
    rows = _rows(app)
    assert len(rows) == 2
    phone_row = next(r for r in rows if r.user_agent == PHONE)
    assert laptop.post(f"/account/sessions/{phone_row.id}/end").status_code == 302
    assert phone.get("/").status_code == 302  # the phone is signed out
    assert laptop.get("/").status_code == 200  # the laptop is not
    assert len(_rows(app)) == 1


def test_cannot_end_someone_elses_session(app) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import HUB_ADMIN_PASSWORD

    ann, admin = _browser(app, PHONE), _browser(app, LAPTOP)
    _login(ann)
    _login(admin, "admin", HUB_ADMIN_PASSWORD)
    admin_row = next(r for r in _rows(app) if r.user_agent == LAPTOP)
    assert ann.post(f"/account/sessions/{admin_row.id}/end").status_code == 404
    assert admin.get("/").status_code == 200


def test_logout_ends_this_session_only(app) -> None:  # type: ignore[no-untyped-def]
    phone, laptop = _browser(app, PHONE), _browser(app, LAPTOP)
    _login(phone)
    _login(laptop)
    assert phone.post("/logout").status_code == 200
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 200


def test_sign_out_everywhere(app) -> None:  # type: ignore[no-untyped-def]
    phone, laptop = _browser(app, PHONE), _browser(app, LAPTOP)
    _login(phone)
    _login(laptop)
    assert laptop.post("/account/sessions/end-all").status_code == 302
    assert phone.get("/").status_code == 302 and laptop.get("/").status_code == 302
    assert _rows(app) == []


def test_deactivation_ends_every_session(app) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import find_user, update_user

    phone, laptop = _browser(app, PHONE), _browser(app, LAPTOP)
    _login(phone)
    _login(laptop)
    with app.app_context():
        update_user(find_user("ann"), active=False)
    assert phone.get("/").status_code == 302 and laptop.get("/").status_code == 302
    assert _rows(app) == []


def test_password_change_needs_the_current_one_and_ends_other_sessions(app) -> None:  # type: ignore[no-untyped-def]
    phone, laptop = _browser(app, PHONE), _browser(app, LAPTOP)
    _login(phone)
    _login(laptop)
    wrong = laptop.post("/account/password", data={
        "current": "not-my-password", "password": "a-new-password-1", "confirm": "a-new-password-1"})
    assert wrong.status_code == 400 and "current password is not right" in wrong.get_data(as_text=True)
    ok = laptop.post("/account/password", data={
        "current": HUB_USER_PASSWORD, "password": "a-new-password-1", "confirm": "a-new-password-1"})
    assert ok.status_code == 302
    assert laptop.get("/").status_code == 200  # this browser stays signed in
    assert phone.get("/").status_code == 302  # the other one is out
    assert len(_rows(app)) == 1
    fresh = _browser(app, PHONE)
    assert _login(fresh).status_code == 401
    assert _login(fresh, password="a-new-password-1").status_code == 302


def test_wrong_current_password_is_throttled(app) -> None:  # type: ignore[no-untyped-def]
    laptop = _browser(app, LAPTOP)
    _login(laptop)
    data = {"current": "wrong-password", "password": "a-new-password-1", "confirm": "a-new-password-1"}
    statuses = [laptop.post("/account/password", data=data).status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]


def test_last_seen_is_written_at_most_once_a_minute(app, clock) -> None:  # type: ignore[no-untyped-def]
    laptop = _browser(app, LAPTOP)
    _login(laptop)
    first = _rows(app)[0].last_seen
    clock.advance(59)
    laptop.get("/")
    assert _rows(app)[0].last_seen == first
    clock.advance(2)
    laptop.get("/")
    assert _rows(app)[0].last_seen > first


def test_old_format_session_ids_are_signed_out(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import find_user

    auth.login()
    with app.app_context():
        user = find_user("ann")
        old = f"{user.id}.{user.session_nonce}"
    with client.session_transaction() as sess:
        sess["_user_id"] = old
    assert client.get("/").status_code == 302


def test_account_page_lists_apps(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    html = client.get("/account/").get_data(as_text=True)
    assert 'href="/sso/jump/invoices"' in html and "Invoices" in html


def test_account_page_needs_login(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/account/").status_code == 302


def test_home_page_links_to_the_account_page(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    assert 'href="/account/"' in client.get("/").get_data(as_text=True)
