"""The jump flow and the service-initiated flow, end to end through the hub."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from sso.audit.models import AuditEvent
from sso.base.db import db
from sso.multipass import MultipassCodec
from tests.conftest import HUB_ADMIN_PASSWORD
from tests.hub.test_redirects import HOSTILE

BOTH = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
PREFIX = "https://invoices.example/login/multipass/"


def _token_from_path(location: str) -> str:
    assert location.startswith(PREFIX), location
    return unquote(location[len(PREFIX):])


def _events(app, name: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == name)))


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_jump_issues_a_token_the_app_can_read(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    slug, secret = connected_app
    auth.login()
    response = client.get(f"/sso/jump/{slug}?return_to=/invoices/42?tab=due")
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    claims = MultipassCodec(secret).decode(_token_from_path(response.headers["Location"]))
    assert claims["email"] == "ann@example.com"
    assert claims["login"] == "ann"
    assert claims["name"] == "Ann Example"
    assert claims["first_name"] == "Ann" and claims["last_name"] == "Example"
    assert claims["identifier"].isdigit()
    assert claims["return_to"] == "/invoices/42?tab=due"
    assert len(claims["jti"]) >= 16
    assert claims["created_at"]
    assert [e.app_slug for e in _events(app, "jump")] == [slug]


def test_each_jump_has_a_fresh_token(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    slug, secret = connected_app
    auth.login()
    first = client.get(f"/sso/jump/{slug}").headers["Location"]
    second = client.get(f"/sso/jump/{slug}").headers["Location"]
    assert first != second
    codec = MultipassCodec(secret)
    assert codec.decode(_token_from_path(first))["jti"] != codec.decode(_token_from_path(second))["jti"]
    assert "return_to" not in codec.decode(_token_from_path(first))


def test_not_logged_in_goes_to_login_then_back(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    slug, secret = connected_app
    response = client.get(f"/sso/jump/{slug}?return_to=/invoices")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/login?next=")
    next_value = parse_qs(urlsplit(login_url).query)["next"][0]
    back = auth.login(next=next_value)
    assert back.headers["Location"] == f"/sso/jump/{slug}?return_to=/invoices"
    final = client.get(back.headers["Location"])
    assert MultipassCodec(secret).decode(_token_from_path(final.headers["Location"]))["return_to"] == "/invoices"


@pytest.mark.parametrize("value", HOSTILE[:-2])
def test_hostile_return_to_is_dropped_from_the_token(app, client, auth, connected_app, value: str) -> None:  # type: ignore[no-untyped-def]
    slug, secret = connected_app
    auth.login()
    response = client.get(f"/sso/jump/{slug}", query_string={"return_to": value})
    if "\x00" in value:  # refused outright for every request
        assert response.status_code == 400 and "Location" not in response.headers
        return
    assert response.status_code == 302
    assert response.headers["Location"].startswith(PREFIX)
    claims = MultipassCodec(secret).decode(_token_from_path(response.headers["Location"]))
    assert "return_to" not in claims
    assert _events(app, "redirect_refused")


def test_return_to_on_allowed_origin_is_kept(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    slug, secret = connected_app
    auth.login()
    response = client.get(f"/sso/jump/{slug}", query_string={"return_to": "https://invoices.example/x"})
    claims = MultipassCodec(secret).decode(_token_from_path(response.headers["Location"]))
    assert claims["return_to"] == "https://invoices.example/x"


def test_unknown_slug_is_404(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    assert client.get("/sso/jump/nope").status_code == 404
    assert client.get("/sso/multipass/nope?login_url=https://x.example/").status_code == 404
    assert client.get("/sso/jump/%ff").status_code == 404
    assert client.get("/sso/jump/%00").status_code == 400


def test_disabled_app_issues_nothing(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    from sso.connected_apps.service import get_app, update_connected_app

    slug, _secret = connected_app
    with app.app_context():
        update_connected_app(get_app(slug), enabled=False)
    auth.login()
    response = client.get(f"/sso/jump/{slug}")
    assert response.status_code == 403
    assert b"disabled" in response.data
    assert "Location" not in response.headers
    response = client.get(f"/sso/multipass/{slug}?login_url=https://invoices.example/login")
    assert response.status_code == 403
    assert not _events(app, "jump")


def test_disabled_user_gets_no_token(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import find_user, update_user

    slug, _secret = connected_app
    auth.login()
    with app.app_context():
        update_user(find_user("ann"), active=False)
    response = client.get(f"/sso/jump/{slug}")
    assert not response.headers.get("Location", "").startswith("https://")
    # Back at the login page, the password no longer opens a session.
    refused = auth.login()
    assert refused.status_code == 401 and b"Login or password is incorrect." in refused.data
    assert not _events(app, "jump")


def test_app_without_secret_gets_a_clear_page(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.connected_apps.service import create_connected_app

    with app.app_context():
        create_connected_app("crm", "CRM", "https://crm.example/login?multipass={token}")
    auth.login()
    response = client.get("/sso/jump/crm")
    assert response.status_code == 409
    assert b"no Multipass secret" in response.data


def test_query_template_quotes_the_token(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.connected_apps.service import create_connected_app, set_secret

    with app.app_context():
        capp = create_connected_app("crm", "CRM", "https://crm.example/login?next=%2Fhome&multipass={token}")
        secret = set_secret(capp)
    auth.login()
    # Many tokens, so that "+", "/" and "=" would appear if the encoding were wrong.
    for _ in range(20):
        location = client.get("/sso/jump/crm").headers["Location"]
        query = parse_qs(urlsplit(location).query)
        assert query["next"] == ["/home"]
        token = query["multipass"][0]
        assert MultipassCodec(secret).decode(token)["login"] == "ann"
        assert "+" not in location and "/" not in urlsplit(location).query


# -- service-initiated -------------------------------------------------------------------


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_service_initiated_flow(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    from sso.connected_apps.service import get_app, update_connected_app

    slug, secret = connected_app
    with app.app_context():
        update_connected_app(get_app(slug), login_urls=["https://invoices.example/login?lang=en"])
    login_url = "https://invoices.example/login?lang=en&multipass=old"
    start = client.get(f"/sso/multipass/{slug}", query_string={"login_url": login_url, "return_to": "/invoices/7"})
    assert start.status_code == 302 and start.headers["Location"].startswith("/login?next=")
    next_value = parse_qs(urlsplit(start.headers["Location"]).query)["next"][0]
    back = auth.login(next=next_value)
    response = client.get(back.headers["Location"])
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "invoices.example", "/login")
    query = parse_qs(location.query)
    assert query["lang"] == ["en"]
    assert len(query["multipass"]) == 1
    claims = MultipassCodec(secret).decode(query["multipass"][0])
    assert claims["login"] == "ann" and claims["return_to"] == "/invoices/7"


@pytest.mark.parametrize(
    "login_url",
    [
        "https://invoices.example/logout/frontchannel",
        "https://invoices.example/scim/v2/Users",
        "https://invoices.example/anything",
        "https://invoices.example/login/",
        "https://invoices.example/Login",
        "https://invoices.example/login?next=/admin",
        "https://invoices.example/login#frag",
        "https://invoices.example/login#",
        "http://invoices.example/login",
        "https://invoices.example:8443/login",
        "https://invoices.example/login/../scim/v2/Users",
        "https://invoices.example/login%2F..%2Fanything",
    ],
)
def test_login_url_must_be_a_registered_one_exactly(app, client, auth, connected_app, login_url: str) -> None:  # type: ignore[no-untyped-def]
    """On the app's own origin, but not its registered login URL: 400, no token."""
    slug, _secret = connected_app
    auth.login()
    response = client.get(f"/sso/multipass/{slug}", query_string={"login_url": login_url})
    assert response.status_code == 400, login_url
    assert "Location" not in response.headers and b"multipass=" not in response.data
    assert not _events(app, "jump")
    assert _events(app, "redirect_refused")[-1].detail["parameter"] == "login_url"


@pytest.mark.parametrize(
    "login_url", ["https://invoices.example/login", "https://INVOICES.example:443/login", "https://invoices.example/login?multipass=x"]
)
def test_registered_login_url_matches(app, client, auth, connected_app, login_url: str) -> None:  # type: ignore[no-untyped-def]
    slug, secret = connected_app
    auth.login()
    response = client.get(f"/sso/multipass/{slug}", query_string={"login_url": login_url})
    assert response.status_code == 302
    token = parse_qs(urlsplit(response.headers["Location"]).query)["multipass"]
    assert len(token) == 1 and MultipassCodec(secret).decode(token[0])["login"] == "ann"


def test_default_login_url_of_a_query_template(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.connected_apps.service import create_connected_app, set_secret

    with app.app_context():
        capp = create_connected_app("crm", "CRM", "https://crm.example/login?next=%2Fhome&multipass={token}")
        set_secret(capp)
        assert capp.login_urls == ["https://crm.example/login?next=%2Fhome"]
        path_app = create_connected_app("inv2", "Inv", "https://inv2.example/login/multipass/{token}")
        assert path_app.login_urls == []  # {token} in the path: IT registers the login page
    auth.login()
    ok = client.get("/sso/multipass/crm", query_string={"login_url": "https://crm.example/login?next=%2Fhome"})
    assert ok.status_code == 302
    assert client.get("/sso/multipass/crm", query_string={"login_url": "https://crm.example/login"}).status_code == 400


@pytest.mark.parametrize("value", HOSTILE[:-1])
def test_hostile_login_url_gets_400_and_no_token(app, client, auth, connected_app, value: str) -> None:  # type: ignore[no-untyped-def]
    slug, _secret = connected_app
    auth.login()
    response = client.get(f"/sso/multipass/{slug}", query_string={"login_url": value})
    assert response.status_code == 400
    assert "Location" not in response.headers
    if "\x00" in value:
        return
    assert b"no token was issued" in response.data or b"missing" in response.data
    refused = _events(app, "redirect_refused")
    assert refused and refused[-1].detail["parameter"] == "login_url"
    assert not _events(app, "jump")


def test_login_url_of_another_app_is_refused(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    from sso.connected_apps.service import create_connected_app, set_secret

    with app.app_context():
        set_secret(create_connected_app("crm", "CRM", "https://crm.example/login/multipass/{token}"))
    auth.login()
    response = client.get("/sso/multipass/invoices?login_url=https://crm.example/login")
    assert response.status_code == 400


def test_refused_login_url_even_when_anonymous(app, client, connected_app) -> None:  # type: ignore[no-untyped-def]
    slug, _secret = connected_app
    response = client.get(f"/sso/multipass/{slug}?login_url=https://evil.example/steal")
    assert response.status_code == 400
    assert _events(app, "redirect_refused")


def test_staged_rotation_is_no_outage(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    """Staging keeps issuing with the active secret (the app does not know the new one yet);
    activation switches at once."""
    from sso.connected_apps.service import activate_secret, get_app, stage_secret
    from sso.multipass import InvalidToken

    slug, old = connected_app
    auth.login()
    before = _token_from_path(client.get(f"/sso/jump/{slug}").headers["Location"])  # primes the codec cache
    assert MultipassCodec(old).decode(before)["login"] == "ann"
    with app.app_context():
        _row, new = stage_secret(get_app(slug))
    staged = _token_from_path(client.get(f"/sso/jump/{slug}").headers["Location"])
    assert MultipassCodec(old).decode(staged)["login"] == "ann"  # an app still on the old secret works
    with app.app_context():
        activate_secret(get_app(slug))
    token = _token_from_path(client.get(f"/sso/jump/{slug}").headers["Location"])
    assert MultipassCodec(new).decode(token)["login"] == "ann"
    with pytest.raises(InvalidToken):
        MultipassCodec(old).decode(token)


def test_tokens_name_their_audience_and_carry_the_app_lifetime(app, client, auth, connected_app, clock) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime

    from sso.connected_apps.service import get_app, update_connected_app
    from sso.multipass import ExpiredToken, InvalidToken, MultipassVerifier

    slug, secret = connected_app
    with app.app_context():
        update_connected_app(get_app(slug), token_lifetime=120)
    auth.login()
    token = _token_from_path(client.get(f"/sso/jump/{slug}").headers["Location"])
    claims = MultipassCodec(secret).decode(token)
    assert claims["aud"] == "invoices"
    created = datetime.fromisoformat(claims["created_at"]).timestamp()
    assert isinstance(claims["exp"], int) and claims["exp"] == created + 120
    assert abs(created - clock.now().timestamp()) < 1  # the hub's clock
    assert MultipassVerifier(secret, audience="invoices").verify(token)["login"] == "ann"
    with pytest.raises(InvalidToken):
        MultipassVerifier(secret, audience="crm").verify(token)
    # The lifetime reaches the consumer: refused once exp (plus the 60 s leeway) has passed,
    # well inside the 15-minute created_at rule.
    later = _token_from_path(client.get(f"/sso/jump/{slug}").headers["Location"])
    with pytest.raises(ExpiredToken):
        MultipassVerifier(secret).verify(later, now=created + 181)


def test_last_issued_time_is_written_at_most_once_a_minute(app, client, auth, connected_app, clock) -> None:  # type: ignore[no-untyped-def]
    """When a secret last issued a token, without a database write per jump."""
    import sqlalchemy as sa

    from sso.connected_apps.models import AppSecret
    from sso.connected_apps.service import active_secret, get_app

    slug, _secret = connected_app
    writes: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE APP_SECRETS"):
            writes.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        auth.login()
        for _ in range(10):
            assert client.get(f"/sso/jump/{slug}").status_code == 302
        assert len(writes) == 1
        with app.app_context():
            first = active_secret(get_app(slug)).last_used_at
            assert first is not None and abs(first.timestamp() - clock.now().timestamp()) < 1
        clock.advance(59)
        client.get(f"/sso/jump/{slug}")
        assert len(writes) == 1
        clock.advance(1)
        client.get(f"/sso/jump/{slug}")
        assert len(writes) == 2
        with app.app_context():
            row = db.session.scalars(db.select(AppSecret)).one()
            assert row.last_used_at is not None and row.last_used_at.timestamp() > first.timestamp() + 59
        page_client = app.test_client()
        page_client.post("/login", data={"login": "admin", "password": HUB_ADMIN_PASSWORD})
        assert b"not yet" not in page_client.get(f"/admin/apps/{slug}").data.split(b"Last issued", 1)[1][:600]
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
