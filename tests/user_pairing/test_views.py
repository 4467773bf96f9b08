"""The pairing page: counts, filter, search, pages, hostile values, refresh failures, access."""

from __future__ import annotations

import pytest

from sso.base.db import db
from tests.conftest import free_port

from .directory_server import TOKEN, Directories, scim_user
from .helpers import counts, refresh, row_statuses, set_directory


def _app_users() -> list[dict]:
    def u(i: int, login: str, email: str, **extra: object) -> dict:
        return scim_user(i, userName=login, emails=[{"value": email, "primary": True}], **extra)

    return [
        u(1, "admin", "admin@example.com"),
        u(2, "ann", "ann@example.com"),
        u(3, "bob", "bob@old-mail.example"),  # email_mismatch
        u(4, "caroline", "carol@example.com"),  # login_mismatch
        u(5, "erin", "ERIN@Example.com"),  # paired, case only
        u(6, "frank", "frank@example.com", name={"formatted": "Frank Fischer"}),  # missing_in_hub
        u(7, "dave", "dave@example.com"),  # conflict: two app users share dave's e-mail
        u(8, "dave2", "dave@example.com"),
    ]


@pytest.fixture()
def scim_hub(demo_hub, base_url: str, directories: Directories):  # type: ignore[no-untyped-def]
    """Hub users admin, ann, bob, carol, dave, erin, gina; the loopback SCIM directory holds
    :func:`_app_users`; directory configured and refreshed once."""
    from sso.accounts.service import create_user

    with demo_hub.app_context():
        create_user("gina", "gina@example.com", "Gina Gray")  # missing_in_app
    directories.users = _app_users()
    set_directory(demo_hub, "scim", f"{base_url}/scim", TOKEN)
    refresh(demo_hub)
    return demo_hub


def test_every_status_is_shown_with_its_count(scim_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get("/admin/pairing/invoices").get_data(as_text=True)
    assert counts(page) == {
        "all": 9, "conflict": 2, "email_mismatch": 1, "login_mismatch": 1,
        "missing_in_app": 1, "missing_in_hub": 1, "paired": 3,
    }
    assert sorted(set(row_statuses(page))) == sorted(
        ["conflict", "email_mismatch", "login_mismatch", "missing_in_app", "missing_in_hub", "paired"]
    )
    assert "Snapshot of 8 users in Invoices taken" in page
    assert "Change the e-mail of bob in Invoices" in page  # the hint column
    assert '"ERIN@Example.com"' in page and '"erin@example.com"' in page  # raw values, case only
    assert "Create in hub" in page and "Create in app" in page


def test_filter_by_status_and_search(scim_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get("/admin/pairing/invoices?status=paired").get_data(as_text=True)
    assert row_statuses(page) == ["paired"] * 3
    assert counts(page)["all"] == 9  # the counts stay those of the whole table
    page = admin_client.get("/admin/pairing/invoices?q=CAROL").get_data(as_text=True)
    assert row_statuses(page) == ["login_mismatch"]
    page = admin_client.get("/admin/pairing/invoices?q=old-mail").get_data(as_text=True)
    assert row_statuses(page) == ["email_mismatch"]
    page = admin_client.get("/admin/pairing/invoices?q=Fischer").get_data(as_text=True)  # by name
    assert row_statuses(page) == ["missing_in_hub"]
    page = admin_client.get("/admin/pairing/invoices?status=paired&q=frank").get_data(as_text=True)
    assert row_statuses(page) == [] and "No rows match this filter" in page
    response = admin_client.get("/admin/pairing/invoices?status=bogus&q=" + "x" * 5000)
    assert response.status_code == 200  # unknown filter means none; long query cut


def test_pagination(scim_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    scim_hub.config["PAIRING_PER_PAGE"] = 2
    seen = []
    for number in (1, 2, 3, 4, 5):
        page = admin_client.get(f"/admin/pairing/invoices?page={number}").get_data(as_text=True)
        assert f"Page {number} of 5 (9 in all)" in page
        seen += row_statuses(page)
    assert len(seen) == 9 and seen.count("paired") == 3
    assert "Page 1 of 5" in admin_client.get("/admin/pairing/invoices?page=abc").get_data(as_text=True)
    assert "Page 5 of 5" in admin_client.get("/admin/pairing/invoices?page=999").get_data(as_text=True)
    page = admin_client.get("/admin/pairing/invoices?status=paired&page=2").get_data(as_text=True)
    assert "Page 2 of 2 (3 in all)" in page and row_statuses(page) == ["paired"]
    assert "status=paired" in page  # the pager keeps the filter


def test_hostile_values_are_escaped_shortened_and_visible(demo_hub, admin_client, base_url, directories) -> None:  # type: ignore[no-untyped-def]
    long_name = "L" * 20_000
    directories.users = [
        scim_user(1, userName="<script>alert(1)</script>", emails=[{"value": '"><img src=x onerror=alert(2)>@x.io'}]),
        scim_user(2, userName="ctl\x1b[31mred\x07", name={"formatted": "rtl\u202eevil"}),
        scim_user(3, userName="long" + "x" * 20_000, name={"formatted": long_name}),
    ]
    set_directory(demo_hub, "scim", f"{base_url}/scim", TOKEN)
    refresh(demo_hub)
    response = admin_client.get("/admin/pairing/invoices?status=missing_in_hub")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page and "&lt;img src=x" in page
    assert "\x1b" not in page and "\x07" not in page and "\u202e" not in page
    assert "ctl\\x1b[31mred\\x07" in page and "rtl\\u202eevil" in page
    assert long_name not in page and "L" * 59 + "…" in page
    assert len(page) < 40_000


def test_no_directory_and_no_snapshot_yet(demo_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get("/admin/pairing/invoices").get_data(as_text=True)
    assert "No snapshot of Invoices" in page and "Not configured yet" in page
    # Without a snapshot nothing is known about the app: no rows, no fix buttons.
    assert counts(page)["missing_in_app"] == 0 and row_statuses(page) == []
    assert "Create in app" not in page and "Change in the" not in page
    response = admin_client.post("/admin/pairing/invoices/refresh", follow_redirects=True)
    assert response.status_code == 200
    assert "No user directory is configured for Invoices" in response.get_data(as_text=True)


FAILURES = [
    ("closed port", None, "Could not connect"),
    ("401", "/s401", "refused the token (HTTP 401)"),
    ("500", "/s500", "failed (HTTP 500)"),
    ("malformed JSON", "/badjson", "did not answer with JSON"),
    ("missing page", "/missing", "the list is incomplete"),
    ("timeout", "/slow", "did not answer within 0.3 s"),
    ("id is a list", "/h-listid", "whose id is not text or a number"),
    ("50,000-deep nesting", "/h-deep", "nested too deeply"),
    ("lone surrogate", "/h-surrogate", "not valid Unicode (a lone surrogate)"),
    ("lone surrogate in the name", "/h-surrogate-name", "not valid Unicode (a lone surrogate)"),
    ("number too long", "/h-bigint", "cannot be read"),
]


@pytest.mark.parametrize(("label", "path", "message"), FAILURES, ids=[f[0] for f in FAILURES])
def test_failed_refresh_keeps_the_last_good_snapshot(scim_hub, admin_client, base_url, label, path, message) -> None:  # type: ignore[no-untyped-def]
    scim_hub.config["PAIRING_SOURCE_TIMEOUT"] = 0.3
    before = admin_client.get("/admin/pairing/invoices").get_data(as_text=True)
    url = f"http://127.0.0.1:{free_port()}/scim" if path is None else base_url + path
    set_directory(scim_hub, "scim", url, TOKEN)
    response = admin_client.post("/admin/pairing/invoices/refresh", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Refresh failed" in page and message in page
    assert "The last refresh failed" in page and "still shows the last good snapshot" in page
    assert counts(page) == counts(before)
    assert TOKEN not in page
    with scim_hub.app_context():
        from sso.audit.models import AuditEvent

        (failed,) = db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == "pairing_refresh_failed"))
        assert message in failed.detail["error"]
    # Reloading keeps showing the error and the old rows until a refresh succeeds.
    again = admin_client.get("/admin/pairing/invoices").get_data(as_text=True)
    assert "The last refresh failed" in again and counts(again) == counts(before)
    set_directory(scim_hub, "scim", f"{base_url}/scim", TOKEN)
    ok = admin_client.post("/admin/pairing/invoices/refresh", follow_redirects=True).get_data(as_text=True)
    assert "Snapshot refreshed: 8 users" in ok and "The last refresh failed" not in ok


def test_directory_form_stores_the_token_encrypted_and_never_shows_it(demo_hub, admin_client, base_url) -> None:  # type: ignore[no-untyped-def]
    from sso.connected_apps.service import get_app
    from user_pairing.models import DirectorySetting
    from user_pairing.service import directory_config

    response = admin_client.post(
        "/admin/pairing/invoices/directory",
        data={"kind": "scim", "url": f"{base_url}/scim", "token": TOKEN}, follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Directory saved" in page and TOKEN not in page and "token stored (not shown)" in page
    with demo_hub.app_context():
        stored = db.session.scalars(db.select(DirectorySetting)).one()
        assert TOKEN not in stored.encrypted_token
        assert directory_config(get_app("invoices")).token == TOKEN
    # An empty token keeps the stored one.
    admin_client.post("/admin/pairing/invoices/directory", data={"kind": "scim", "url": f"{base_url}/scim/", "token": ""})
    with demo_hub.app_context():
        assert directory_config(get_app("invoices")).token == TOKEN
    # Bad values: a message, nothing stored, never a 500.
    page = admin_client.post(
        "/admin/pairing/invoices/directory", data={"kind": "json", "url": "ftp://x", "token": "t"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Directory not saved" in page and "http:// or https://" in page
    assert admin_client.post("/admin/pairing/invoices/directory", data={"kind": "ldap"}).status_code == 400


def test_csv_directory_upload(demo_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    import io

    admin_client.post("/admin/pairing/invoices/directory", data={"kind": "csv"})
    page = admin_client.get("/admin/pairing/invoices").get_data(as_text=True)
    assert "Upload and refresh" in page
    good = b"login,email,name\nann,ann@example.com,Ann\nzoe,zoe@example.com,Zoe\n"
    page = admin_client.post(
        "/admin/pairing/invoices/refresh", data={"file": (io.BytesIO(good), "users.csv")},
        content_type="multipart/form-data", follow_redirects=True,
    ).get_data(as_text=True)
    assert "Snapshot refreshed: 2 users" in page
    assert counts(page)["paired"] == 1 and counts(page)["missing_in_hub"] == 1
    bad = b"login,email\n\"unterminated,x\n"
    page = admin_client.post(
        "/admin/pairing/invoices/refresh", data={"file": (io.BytesIO(bad), "users.csv")},
        content_type="multipart/form-data", follow_redirects=True,
    ).get_data(as_text=True)
    assert "Refresh failed" in page and "CSV file" in page and counts(page)["paired"] == 1
    page = admin_client.post("/admin/pairing/invoices/refresh", follow_redirects=True).get_data(as_text=True)
    assert "needs an uploaded file" in page


def test_admins_only(scim_hub, client, auth) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/admin/pairing/invoices").status_code == 302  # login first
    auth.login()  # ann, not an admin
    for url in ("/admin/pairing/invoices", "/admin/pairing/invoices.csv", "/admin/pairing/invoices.json"):
        assert client.get(url).status_code == 403
    for action in ("refresh", "directory", "create-in-app", "create-in-hub"):
        assert client.post(f"/admin/pairing/invoices/{action}", data={"login": "frank"}).status_code == 403


def test_unknown_app_is_404(admin_client) -> None:  # type: ignore[no-untyped-def]
    for url in ("/admin/pairing/nope", "/admin/pairing/nope.csv", "/admin/pairing/nope.json"):
        assert admin_client.get(url).status_code == 404
    assert admin_client.post("/admin/pairing/nope/refresh").status_code == 404


def test_apps_page_links_to_pairing(demo_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    assert 'href="/admin/pairing/invoices"' in admin_client.get("/admin/apps/").get_data(as_text=True)


def _integration_panel(admin_client) -> str:  # type: ignore[no-untyped-def]
    page = admin_client.get("/admin/apps/invoices").get_data(as_text=True)
    return page.split('id="integration"', 1)[1].split("</section>", 1)[0]


def test_integration_panel_names_the_apps_directory_url(demo_hub, admin_client, base_url) -> None:  # type: ignore[no-untyped-def]
    """IT finds the app's SCIM URL with the rest of the app's integration, with a copy button."""
    panel = _integration_panel(admin_client)
    assert "user directory" in panel and "Not set" in panel
    assert '<a href="/admin/pairing/invoices">Set it on the Pairing page</a>' in panel
    set_directory(demo_hub, "scim", f"{base_url}/scim", TOKEN)
    panel = _integration_panel(admin_client)
    assert f'id="cfg-item-1">{base_url}/scim</code><button type="button" class="copy" data-copy="cfg-item-1">' in panel
    assert '<a href="/admin/pairing/invoices">Change it on the Pairing page</a>' in panel and "Not set" not in panel
    assert TOKEN not in panel


def test_app_user_without_an_email_is_listed_searched_and_fixable(demo_hub, admin_client, base_url, directories) -> None:  # type: ignore[no-untyped-def]
    """A SCIM user with no ``emails`` at all: shown as missing in the hub, found by search,
    and offered its fix, never a 500."""
    directories.users = [scim_user(1, userName="noemail", emails=[])]
    set_directory(demo_hub, "scim", f"{base_url}/scim", TOKEN)
    refresh(demo_hub)
    page = admin_client.get("/admin/pairing/invoices?q=noemail")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert row_statuses(text) == ["missing_in_hub"] and "noemail" in text
    assert admin_client.get("/admin/pairing/invoices.csv").status_code == 200


def test_a_new_directory_url_or_type_needs_the_token_again(demo_hub, admin_client, base_url, directories) -> None:  # type: ignore[no-untyped-def]
    from sso.connected_apps.service import get_app
    from user_pairing.service import directory_config

    def post(status: int = 200, **data: str) -> str:
        response = admin_client.post("/admin/pairing/invoices/directory", data=data, follow_redirects=True)
        assert response.status_code == status
        return response.get_data(as_text=True)

    assert "Directory saved" in post(kind="scim", url=f"{base_url}/scim", token=TOKEN)
    # Another server (here: another path of the loopback server, playing the attacker's)...
    for data in ({"kind": "scim", "url": f"{base_url}/elsewhere"},
                 {"kind": "scim", "url": f"http://localhost:{base_url.rsplit(':', 1)[1]}/scim"},
                 {"kind": "json", "url": f"{base_url}/scim"}):
        page = post(400, **data, token="")  # the form again, the message under the token field
        assert "enter the token again" in page, data
    with demo_hub.app_context():
        config = directory_config(get_app("invoices"))
        assert (config.kind, config.url, config.token) == ("scim", f"{base_url}/scim", TOKEN)
    admin_client.post("/admin/pairing/invoices/refresh")
    read = {"/scim/Users", "/scim/Groups"}  # the refresh reads the users and the departments
    assert all(path in read for path, auth in directories.authorizations if TOKEN in auth)
    assert sorted({path for path, _auth in directories.authorizations}) == sorted(read)
    # The same URL (a trailing slash aside) keeps it; a new URL with its token is saved.
    assert "Directory saved" in post(kind="scim", url=f"{base_url}/scim/", token="")
    assert "Directory saved" in post(kind="scim", url=f"{base_url}/short", token=TOKEN)
    # The CLI follows the same rule.
    runner = demo_hub.test_cli_runner()
    result = runner.invoke(args=["apps", "set-directory", "invoices", "--type", "scim", "--url", f"{base_url}/x"])
    assert result.exit_code != 0 and "enter the token again" in result.output
