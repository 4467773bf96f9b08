"""Bad input anywhere gets a 4xx page, never a 500 or a stack trace."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NASTY = [
    "", " ", "\x00", "\r\n", "%00", "%ff", "<script>alert(1)</script>", "' OR 1=1 --",
    "a" * 10_000, "../../etc/passwd", "{token}", "☃", "\u202e", "-1", "1e9999", "[]", "{}",
]
text = st.one_of(st.sampled_from(NASTY), st.text(st.characters(exclude_categories=("Cs",)), max_size=300))


def _ok(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.status_code
    assert b"Traceback" not in response.data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(login=text, password=text, next_=text)
def test_login_form(client, login: str, password: str, next_: str) -> None:  # type: ignore[no-untyped-def]
    _ok(client.post("/login", data={"login": login, "password": password, "next": next_}))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(slug=text, return_to=text, login_url=text)
def test_flow_parameters(client, auth, connected_app, slug: str, return_to: str, login_url: str) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    _ok(client.get("/sso/jump/invoices", query_string={"return_to": return_to}))
    _ok(client.get("/sso/multipass/invoices", query_string={"login_url": login_url, "return_to": return_to}))
    _ok(client.get("/sso/jump/" + slug.replace("/", "").replace("?", "").replace("#", "")))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.fixed_dictionaries({k: text for k in (
    "slug", "name", "login_url_template", "allowed_origins", "token_lifetime", "logout_url", "secret")}))
def test_admin_app_form(client, auth, values: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    _ok(client.post("/admin/apps/new", data=values))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.fixed_dictionaries({k: text for k in ("login", "email", "name")}), q=text, page=text)
def test_admin_user_form(client, auth, values: dict[str, str], q: str, page: str) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    _ok(client.post("/admin/users/new", data=values))
    _ok(client.post("/admin/users/1", data=values))
    _ok(client.get("/admin/users/", query_string={"q": q, "page": page}))
    _ok(client.get("/admin/audit/", query_string={"user": q, "event": q, "page": page}))


@pytest.mark.parametrize(
    ("method", "url"),
    [("GET", "/logout"), ("PUT", "/login"), ("DELETE", "/"), ("POST", "/sso/jump/invoices"),
     ("GET", "/admin/apps/x/secret"), ("GET", "/set-password/")],
)
def test_wrong_methods_and_paths(client, method: str, url: str) -> None:  # type: ignore[no-untyped-def]
    response = client.open(url, method=method)
    assert response.status_code in {404, 405}
    assert b'<h1 id="error-title">' in response.data and b"Error 4" not in response.data


def test_error_page_is_plain(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"There is no page at this address." in response.data


def test_unexpected_errors_show_no_details(app, client) -> None:  # type: ignore[no-untyped-def]
    @app.get("/boom-for-test")
    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("internal detail: secret=xyz")

    response = client.get("/boom-for-test")
    assert response.status_code == 500
    assert b"secret=xyz" not in response.data and b"went wrong" in response.data


@pytest.mark.parametrize("db_backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_nul_bytes_are_refused_everywhere(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/login", data={"login": "ann\x00", "password": "x"}).status_code == 400
    auth.login()
    for url in ("/admin/users/?q=%00", "/sso/jump/invoices?return_to=/%00", "/sso/jump/in%00voices",
                "/sso/multipass/invoices?login_url=https://invoices.example/%00"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "Location" not in response.headers


# -- bodies that are not forms ------------------------------------------------------------------

JSON_BODIES = [
    {"login": 5, "password": "x"},
    {"login": ["ann"], "password": {"a": 1}},
    {"login": "ann\x00", "password": "x\x00"},
    {"password": "0123456789", "confirm": 5},
    {"login": 5, "email": ["x"], "name": None, "active": "yes"},
]


@pytest.mark.parametrize("db_backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
@pytest.mark.parametrize("body", JSON_BODIES)
def test_json_bodies_get_415_on_every_form_endpoint(app, client, auth, body) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import find_user, make_set_password_token

    with app.app_context():
        token = make_set_password_token(find_user("ann"))
    headers = {"X-CSRFToken": "anything"}
    for url in ("/login", f"/set-password/{token}"):
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == 415, (url, response.status_code)
        assert b"not JSON" in response.data and b"Traceback" not in response.data
    auth.login_admin()
    for url in ("/admin/users/new", "/admin/users/1", "/admin/apps/new", "/logout"):
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == 415, (url, response.status_code)
    # Nothing was changed by any of them: the admin is still logged in, still called admin.
    assert client.get("/admin/users/").status_code == 200
    with app.app_context():
        assert find_user("admin") is not None and find_user("admin").login == "admin"


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/octet-stream"])
def test_other_bodies_get_415_and_empty_posts_still_work(client, auth, content_type: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/login", data=b"login=ann&password=x", content_type=content_type)
    assert response.status_code == 415
    auth.login()
    assert client.post("/logout").status_code == 200  # a bare button POST, no body at all
    assert client.get("/").status_code == 302


def test_json_null_character_is_not_a_500(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/login", data='{"login": "a\\u0000b", "password": "x"}', content_type="application/json")
    assert response.status_code == 415


@pytest.mark.parametrize("db_backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_the_500_page_rolls_back_a_failed_transaction_first(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.base.db import db

    @app.get("/fail-in-transaction-for-test")
    def fail():  # type: ignore[no-untyped-def]
        from sso.accounts.models import User

        # A write fails inside the request's transaction (here: a duplicate login), and the
        # session is left needing a rollback (PostgreSQL: the transaction is aborted).
        db.session.add(User(login="ann", login_key="ann", email="x@example.com", email_key="x@example.com"))
        db.session.flush()

    auth.login()
    response = client.get("/fail-in-transaction-for-test")
    assert response.status_code == 500
    assert b"went wrong" in response.data and b"Multipass SSO" in response.data  # the hub's own page
    # The full page, drawn with the signed-in user and its next steps (without the rollback
    # it cannot read the user and falls back to the plain page, which has neither).
    assert b"Ann Example" in response.data and b"Try again" in response.data
    assert b"Traceback" not in response.data
    assert client.get("/").status_code == 200  # and the next request is fine
