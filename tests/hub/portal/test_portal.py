"""Home page and the top menu on every page."""

from __future__ import annotations


def test_home_needs_login(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_menu_has_app_buttons_everywhere(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    for url in ("/", "/nope-404"):
        page = client.get(url).data.decode()
        assert 'href="/sso/jump/invoices"' in page and ">Invoices</a>" in page
        assert "Connected apps" not in page  # not an admin
        assert 'action="/logout"' in page


def test_admin_links_for_admins(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    page = client.get("/").data.decode()
    for link in ('href="/admin/users/"', 'href="/admin/apps/"', 'href="/admin/audit/"'):
        assert link in page


def test_security_headers_on_every_page(client) -> None:  # type: ignore[no-untyped-def]
    for url in ("/login", "/healthz", "/nope"):
        response = client.get(url)
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_logout_page_calls_app_logout_urls(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    response = auth.logout()
    assert b'src="https://invoices.example/logout"' in response.data
    assert "frame-src https://invoices.example" in response.headers["Content-Security-Policy"]
    assert b"<script" not in response.data
