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
