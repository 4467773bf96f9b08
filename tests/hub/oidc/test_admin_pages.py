"""OIDC apps on the admin pages and in the top menu (the button starts the app's own login)."""

from __future__ import annotations

import re


def _add(app) -> str | None:  # type: ignore[no-untyped-def]
    from sso.oidc.service import add_client

    with app.app_context():
        _app, secret = add_client("wiki", "Wiki", ["https://wiki.example/cb"],
                                  initiate_login_uri="https://wiki.example/login")
    return secret


def test_admin_adds_edits_and_renews_the_secret(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.oidc.server import token_hash
    from sso.oidc.service import get_client

    auth.login_admin()
    assert "Add OpenID Connect app" in client.get("/admin/apps/").text
    created = client.post("/admin/oidc/new", data={
        "slug": "board", "name": "Board", "redirect_uris": "https://board.example/cb\nhttps://board.example/cb2",
        "third_party": "y", "id_token_alg": "ES256"})
    assert created.status_code == 200 and "only time the secret is shown" in created.text
    secret = re.search(r'id="secret" type="text" readonly value="([^"]+)"', created.text).group(1)  # type: ignore[union-attr]
    assert created.headers["Cache-Control"] == "no-store"
    with app.app_context():
        row = get_client("board")
        assert row.secret_hash == token_hash(secret) and not row.first_party and row.id_token_alg == "ES256"
    listing = client.get("/admin/apps/")
    assert "/admin/oidc/board" in listing.text and "OpenID Connect" in listing.text
    assert client.get("/admin/apps/board").headers["Location"].endswith("/admin/oidc/board")
    page = client.get("/admin/oidc/board")
    assert page.status_code == 200 and "https://board.example/cb2" in page.text and secret not in page.text
    bad = client.post("/admin/oidc/board", data={"slug": "board", "name": "Board",
                                                 "redirect_uris": "http://board.example/cb", "id_token_alg": "RS256"})
    assert bad.status_code == 400 and "https://" in bad.text
    saved = client.post("/admin/oidc/board", data={"slug": "board", "name": "Board 2", "enabled": "",
                                                   "redirect_uris": "https://board.example/new",
                                                   "id_token_alg": "RS256"})
    assert saved.status_code == 302
    with app.app_context():
        row = get_client("board")
        assert row.redirect_uris == ["https://board.example/new"] and row.app.name == "Board 2"
        assert not row.app.enabled and row.first_party
    renewed = client.post("/admin/oidc/board/secret")
    new_secret = re.search(r'readonly value="([^"]+)"', renewed.text).group(1)  # type: ignore[union-attr]
    with app.app_context():
        assert get_client("board").secret_hash == token_hash(new_secret) != token_hash(secret)


def test_admin_pages_need_an_admin(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    _add(app)
    auth.login()
    assert client.get("/admin/oidc/wiki").status_code in (302, 403)
    assert client.get("/admin/oidc/new").status_code in (302, 403)


def test_menu_button_of_an_oidc_app_starts_its_login(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    _add(app)
    auth.login()
    home = client.get("/")
    assert "/sso/jump/wiki" in home.text
    jump = client.get("/sso/jump/wiki")
    assert jump.status_code == 302 and jump.headers["Location"].endswith("/oidc/start/wiki")
    start = client.get("/oidc/start/wiki")
    assert start.status_code == 302 and start.headers["Location"] == "https://wiki.example/login"
    assert client.get("/sso/multipass/wiki?login_url=https://wiki.example/cb").status_code >= 400
