"""With CSRF on (as in production), every pairing form carries a token; posts without one fail."""

from __future__ import annotations

import re

import pytest

from tests.conftest import HUB_ADMIN_PASSWORD

from .directory_server import TOKEN
from .helpers import refresh, set_directory

FORM = re.compile(r'<form[^>]*method="post"[^>]*>(.*?)</form>', re.S)
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.fixture
def hub_config(hub_config):  # type: ignore[no-untyped-def]
    hub_config["WTF_CSRF_ENABLED"] = True
    return hub_config


def test_pairing_forms_need_csrf(demo_hub, client, base_url) -> None:  # type: ignore[no-untyped-def]
    login_page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"login": "admin", "password": HUB_ADMIN_PASSWORD,
                                "csrf_token": CSRF.search(login_page).group(1)})
    set_directory(demo_hub, "scim", f"{base_url}/scim", TOKEN)
    refresh(demo_hub)
    page = client.get("/admin/pairing/invoices").get_data(as_text=True)
    forms = FORM.findall(page)
    assert len(forms) >= 5  # refresh, directory, fix buttons, logout
    assert all(CSRF.search(form) for form in forms)
    for action in ("refresh", "directory", "create-in-hub", "create-in-app"):
        response = client.post(f"/admin/pairing/invoices/{action}", data={"kind": "csv", "key": "x"})
        assert response.status_code == 400, action
        assert "out of date" in response.get_data(as_text=True)
    token = CSRF.search(page).group(1)
    ok = client.post("/admin/pairing/invoices/refresh", data={"csrf_token": token}, follow_redirects=True)
    assert "Snapshot refreshed: 7 users" in ok.get_data(as_text=True)
