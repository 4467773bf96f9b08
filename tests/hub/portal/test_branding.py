"""Branding on every page (SSO_BRAND_NAME, SSO_BRAND_LOGO), and the current page marked in the menu."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sso import create_app
from sso.base.errors import ConfigError
from sso.config import load_config
from tests.conftest import PLUGINS

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def test_default_brand_on_every_page(client, auth) -> None:  # type: ignore[no-untyped-def]
    for url in ("/login", "/nope"):
        page = client.get(url).get_data(as_text=True)
        assert "· Multipass SSO</title>" in page and '<span class="brand-name">Multipass SSO</span>' in page
    assert client.get("/brand/logo").status_code == 404  # no logo set


def test_brand_name_and_logo_from_settings(hub_config, clock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    logo = tmp_path / "logo.svg"
    logo.write_bytes(SVG)
    app = create_app({**hub_config, "BRAND_NAME": "Acme Login", "BRAND_LOGO": str(logo)}, plugins=PLUGINS, clock=clock)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "<title>Log in · Acme Login</title>" in page and "Log in to Acme Login" in page
    assert re.search(r'<img class="brand-logo" src="/brand/logo" alt=""', page)
    with client.get("/brand/logo") as served:
        served.direct_passthrough = False
        assert served.status_code == 200 and served.get_data() == SVG
        assert served.mimetype == "image/svg+xml"
        assert "sandbox" in served.headers["Content-Security-Policy"]  # a script in the SVG cannot run
        assert served.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("env", "message"),
    [({"SSO_BRAND_NAME": "x" * 61}, "at most 60"), ({"SSO_BRAND_LOGO": "/etc/passwd"}, "must name a"),
     ({"SSO_BRAND_LOGO": "/nonexistent/logo.png"}, "no file at")],
)
def test_bad_brand_settings_stop_the_start(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path, environ=env)


def test_large_logo_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\0" * 300_000)
    with pytest.raises(ConfigError, match="larger than 256 KiB"):
        load_config(tmp_path, environ={"SSO_BRAND_LOGO": str(big)})


def test_current_section_marked_in_the_menu(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    marked = {
        "/": 'class="brand" href="/" aria-current="page"',
        "/admin/users/": 'href="/admin/users/" aria-current="page">Users',
        "/admin/apps/": 'href="/admin/apps/" aria-current="page">Connected apps',
        "/admin/apps/invoices": 'href="/admin/apps/" aria-current="page">Connected apps',
        "/admin/pairing/invoices": 'href="/admin/apps/" aria-current="page">Connected apps',
        "/admin/audit/": 'href="/admin/audit/" aria-current="page">Audit',
    }
    for url, expected in marked.items():
        page = client.get(url).get_data(as_text=True)
        assert expected in page, url
        assert page.count('aria-current="page"') == 1 or url.startswith("/admin/pairing"), url


def test_pairing_filter_marks_the_current_status(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    page = client.get("/admin/pairing/invoices?status=paired").get_data(as_text=True)
    counts = page.split('class="status-counts"', 1)[1].split("</nav>", 1)[0]
    assert re.search(r'status=paired[^"]*"[^>]*aria-current="page"', counts)
    assert counts.count('aria-current="page"') == 1


def test_tables_scroll_inside_their_card(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    for url in ("/admin/users/", "/admin/apps/", "/admin/audit/", "/admin/apps/invoices", "/admin/pairing/invoices"):
        page = client.get(url).get_data(as_text=True)
        assert page.count("<table") == page.count('<div class="table-wrap"'), url


def test_menu_folds_without_script(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert '<input type="checkbox" id="menu-toggle"' in page and '<label for="menu-toggle"' in page
    assert "<script" not in page
