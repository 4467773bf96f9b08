"""Admin pages for connected apps: add, secret shown once then masked, rotate, retire."""

from __future__ import annotations

import hashlib
import html
import re

from sso.audit.models import AuditEvent
from sso.base.db import db

FORM = {
    "slug": "invoices",
    "name": "Invoices",
    "login_url_template": "https://invoices.example/login/multipass/{token}",
    "allowed_origins": "https://invoices.example",
    "token_lifetime": "600",
    "enabled": "y",
    "logout_url": "https://invoices.example/logout",
    "secret": "",
}


def _secret_on(page: bytes) -> str:
    match = re.search(rb'id="secret" type="text" readonly value="([^"]+)"', page)
    assert match, page
    return match.group(1).decode()


def _revealed(client, response) -> str:  # type: ignore[no-untyped-def]
    """Follow a POST's redirect to the one-time reveal page and read the secret there."""
    assert response.status_code == 303, response.data
    assert b'readonly value="' not in response.data  # the POST's own answer never holds it
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    return _secret_on(page.data)


def _secret_count(app) -> int:  # type: ignore[no-untyped-def]
    from sso.connected_apps.models import AppSecret

    with app.app_context():
        return len(db.session.scalars(db.select(AppSecret.id)).all())


def test_only_admins(client, auth) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/admin/apps/").status_code == 302
    auth.login()
    assert client.get("/admin/apps/").status_code == 403
    assert client.post("/admin/apps/new", data=FORM).status_code == 403


def test_add_shows_secret_once_then_masked(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    response = client.post("/admin/apps/new", data=FORM)
    secret = _revealed(client, response)
    assert len(secret) >= 43
    page = client.get("/admin/apps/invoices")
    assert page.status_code == 200
    assert secret.encode() not in page.data
    assert hashlib.sha256(secret.encode()).hexdigest()[:8].encode() in page.data  # its fingerprint
    assert secret.encode() not in client.get("/admin/apps/").data
    assert secret.encode() not in client.get("/admin/audit/").data
    with app.app_context():
        events = [e.event for e in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))]
        assert {"app_created", "secret_set", "secret_revealed"} <= set(events)
        for detail in db.session.scalars(db.select(AuditEvent.detail)):
            assert secret not in str(detail)


def test_reload_of_the_reveal_page_shows_nothing_and_changes_nothing(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    first = _revealed(client, client.post("/admin/apps/new", data=FORM))
    staged = client.post("/admin/apps/invoices/secret", data={"secret": ""})
    reveal_url = staged.headers["Location"]
    second = _revealed(client, staged)
    assert second != first
    count = _secret_count(app)
    again = client.get(reveal_url)  # the browser's reload
    assert again.status_code == 302 and again.headers["Location"].endswith("/admin/apps/invoices")
    assert second.encode() not in client.get(again.headers["Location"]).data
    assert _secret_count(app) == count
    with app.app_context():
        from sso.connected_apps.service import get_app, issuing_secret

        assert issuing_secret(get_app("invoices")) == first  # staged only: nothing switched


def test_a_stale_reveal_is_not_shown(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    response = client.post("/admin/apps/new", data=FORM)
    clock.advance(301)
    assert client.get(response.headers["Location"]).status_code == 302


def test_staged_rotation_walks_three_steps(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.connected_apps.models import fingerprint
    from sso.connected_apps.service import accepted_secrets, get_app, issuing_secret

    auth.login_admin()
    first = _revealed(client, client.post("/admin/apps/new", data=FORM))
    page = client.get("/admin/apps/invoices").data.decode()
    assert page.count('class="secret-row active"') == 1 and "Stage new secret" in page
    second = _revealed(client, client.post("/admin/apps/invoices/secret", data={"secret": ""}))
    page = client.get("/admin/apps/invoices").data.decode()
    assert page.count('class="secret-row next"') == 1
    assert f"accept both secrets, newest first: <code>{fingerprint(second)}</code>, then <code>{fingerprint(first)}</code>" in page
    assert "every sign-in into Invoices fails" in page
    # Activation needs the confirmation box, checked by the server (no JS-only confirm).
    refused = client.post("/admin/apps/invoices/secret/activate", data={})
    assert refused.status_code == 400 and b"Tick the box" in refused.data
    with app.app_context():
        assert issuing_secret(get_app("invoices")) == first
    assert client.post("/admin/apps/invoices/secret/activate", data={"confirm": "y"}).status_code == 302
    with app.app_context():
        assert issuing_secret(get_app("invoices")) == second
    page = client.get("/admin/apps/invoices").data.decode()
    assert page.count('class="secret-row previous"') == 1 and f"Retire {fingerprint(first)}" in page
    assert "keeps accepting tokens made with the old secret" in page
    assert client.post("/admin/apps/invoices/secret/retire").status_code == 302
    page = client.get("/admin/apps/invoices").data.decode()
    assert page.count('class="secret-row retired"') == 1
    with app.app_context():
        assert accepted_secrets(get_app("invoices")) == [second]
    # Out of order: a clear message, nothing changes.
    again = client.post("/admin/apps/invoices/secret/retire")
    assert again.status_code == 409 and b"no previous secret" in again.data
    early = client.post("/admin/apps/invoices/secret/activate", data={"confirm": "y"})
    assert early.status_code == 409 and b"Nothing is staged" in early.data


def test_pasted_secret(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    response = client.post("/admin/apps/new", data={**FORM, "secret": "secret-issued-by-the-other-app"})
    assert _revealed(client, response) == "secret-issued-by-the-other-app"
    short = client.post("/admin/apps/invoices/secret", data={"secret": "short"})
    assert short.status_code == 400 and b"at least" in short.data


def _form_values(page: str) -> dict[str, str]:
    """The settings form as a browser would submit it from ``page``."""
    form = page.split('<form method="post" action="/admin/apps/invoices">', 1)[1].split("</form>", 1)[0]
    values = {m.group(1): html.unescape(m.group(2)) for m in re.finditer(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form)
              if "checkbox" not in m.group(0) or "checked" in m.group(0)}
    for m in re.finditer(r'<input[^>]*type="checkbox"[^>]*>', form):
        name = re.search(r'name="([^"]+)"', m.group(0)).group(1)  # type: ignore[union-attr]
        if "checked" in m.group(0):
            values[name] = "y"
        else:
            values.pop(name, None)
    for m in re.finditer(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        values[m.group(1)] = html.unescape(m.group(2)).strip()
    return values


def test_secret_form_error_keeps_the_app_settings(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    """A too-short pasted secret re-renders the page with the app's real settings; saving
    that page afterwards leaves the app enabled."""
    auth.login_admin()
    client.post("/admin/apps/new", data=FORM)
    short = client.post("/admin/apps/invoices/secret", data={"secret": "short"})
    assert short.status_code == 400
    page = short.data.decode()
    values = _form_values(page)
    assert values.get("enabled") == "y"
    assert values["allowed_origins"] == "https://invoices.example"
    assert "[&#39;" not in page and "['http" not in page
    assert values["name"] == "Invoices" and values["token_lifetime"] == "600"
    assert client.post("/admin/apps/invoices", data=values).status_code == 302
    with app.app_context():
        from sso.connected_apps.service import get_app

        saved = get_app("invoices")
        assert saved.enabled is True and saved.allowed_origins == ["https://invoices.example"]


def test_two_apps_may_not_share_a_secret(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    shared = "secret-issued-by-the-other-app"
    _revealed(client, client.post("/admin/apps/new", data={**FORM, "secret": shared}))
    other = {**FORM, "slug": "crm", "name": "CRM", "secret": shared}
    refused = client.post("/admin/apps/new", data=other)
    assert refused.status_code == 400 and b"already stored at the hub" in refused.data
    assert b"invoices" not in refused.data.split(b"already stored", 1)[1][:300]  # never says which app
    _revealed(client, client.post("/admin/apps/new", data={**other, "secret": ""}))
    staged = client.post("/admin/apps/crm/secret", data={"secret": shared})
    assert staged.status_code == 400 and b"already stored at the hub" in staged.data
    own = client.post("/admin/apps/invoices/secret", data={"secret": shared})  # its own active one, too
    assert own.status_code == 400


def test_copy_buttons_and_integration_panel(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    response = client.post("/admin/apps/new", data={**FORM, "login_urls": "https://invoices.example/login"})
    reveal = client.get(response.headers["Location"])
    assert b'class="copy" data-copy="secret"' in reveal.data
    assert b'<script src="/static/copy.js" defer></script>' in reveal.data
    assert b"<script>" not in reveal.data  # nothing inline: the CSP allows script-src 'self' only
    assert "script-src 'self'" in reveal.headers["Content-Security-Policy"]
    script = client.get("/static/copy.js")
    assert script.status_code == 200
    script.close()
    page = client.get("/admin/apps/invoices").data.decode()
    panel = page.split('id="integration"', 1)[1].split("</section>", 1)[0]
    assert 'id="cfg-audience">invoices<' in panel
    secret = _secret_on(reveal.data)
    assert f'id="cfg-fp-active">{hashlib.sha256(secret.encode()).hexdigest()[:8]}<' in panel  # its fingerprint
    assert "https://invoices.example/login/multipass/{token}" in panel
    assert ("/sso/multipass/invoices?login_url=https%3A%2F%2Finvoices.example%2Flogin" in panel)
    assert panel.count('class="copy"') >= 3
    assert 'href="/admin/pairing/invoices"' in panel  # the pairing plugin's line: the app's directory (SCIM) URL


def test_bad_input_is_a_400_page(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    for change in (
        {"login_url_template": "https://evil.example/{token}"},
        {"login_url_template": "no placeholder"},
        {"allowed_origins": "javascript:alert(1)"},
        {"slug": "Bad Slug!"},
        {"token_lifetime": "abc"},
        {"token_lifetime": "999999"},
        {"logout_url": "https://evil.example/"},
        {"name": ""},
    ):
        response = client.post("/admin/apps/new", data={**FORM, **change})
        assert response.status_code == 400, change
    assert client.get("/admin/apps/").data.count(b"invoices.example/login") == 0


def test_edit_disables_app_and_removes_menu_button(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    client.post("/admin/apps/new", data=FORM)
    assert b'data-app="invoices"' in client.get("/").data
    form = {k: v for k, v in FORM.items() if k not in {"enabled", "secret"}}
    assert client.post("/admin/apps/invoices", data=form).status_code == 302
    assert b'data-app="invoices"' not in client.get("/").data
    assert client.get("/admin/apps/nope").status_code == 404
