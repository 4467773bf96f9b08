"""With CSRF on (as in production), every POST form carries a token and works with it."""

from __future__ import annotations

import re

import pytest

from tests.conftest import HUB_ADMIN_PASSWORD

FORM = re.compile(r'<form[^>]*method="post"[^>]*>(.*?)</form>', re.S)
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.fixture
def csrf_config(hub_config):  # type: ignore[no-untyped-def]
    hub_config["WTF_CSRF_ENABLED"] = True
    return hub_config


def _token(page: str) -> str:
    match = TOKEN.search(page)
    assert match, page
    return match.group(1)


def test_every_post_form_has_a_token(csrf_config, app, client, connected_app) -> None:  # type: ignore[no-untyped-def]
    login_page = client.get("/login").data.decode()
    client.post("/login", data={"login": "admin", "password": HUB_ADMIN_PASSWORD, "csrf_token": _token(login_page)})
    pages = ["/", "/admin/users/", "/admin/users/new", "/admin/users/1", "/admin/apps/", "/admin/apps/new",
             "/admin/apps/invoices", "/admin/audit/"]
    seen = 0
    for url in pages:
        page = client.get(url).data.decode()
        for form in FORM.findall(page):
            assert TOKEN.search(form), (url, form[:200])
            seen += 1
    assert seen >= 10


def test_admin_post_without_token_is_refused(csrf_config, app, client, connected_app) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login").data.decode()
    client.post("/login", data={"login": "admin", "password": HUB_ADMIN_PASSWORD, "csrf_token": _token(page)})
    for url, data in [
        ("/admin/apps/invoices/secret", {}),
        ("/admin/apps/invoices/secret/activate", {"confirm": "y"}),
        ("/admin/apps/invoices/secret/retire", {}),
        ("/admin/apps/invoices/secret/discard", {}),
        ("/admin/users/2/reset-password", {}),
        ("/admin/users/2/deactivate", {}),
        ("/admin/apps/new", {"slug": "x", "name": "X", "login_url_template": "https://x.example/{token}",
                             "token_lifetime": "900"}),
    ]:
        response = client.post(url, data=data)
        assert response.status_code == 400, url
        assert b"did not come from this site" in response.data or b"out of date" in response.data
    token = _token(client.get("/admin/apps/invoices").data.decode())
    rotated = client.post("/admin/apps/invoices/secret", data={"csrf_token": token, "secret": ""})
    assert rotated.status_code == 303 and b'id="secret"' in client.get(rotated.headers["Location"]).data
