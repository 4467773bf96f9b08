"""No token ever reaches the audit log, and anonymous refusals cannot flood it."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from sso.audit.models import AuditEvent
from sso.audit.service import scrub
from sso.base.db import db
from sso.multipass import MultipassCodec

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4iLCJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLXZhbHVlLWhlcmU"


def _token() -> str:
    return MultipassCodec("scrub-test-secret-0123").encode({"email": "ann@example.com", "login": "ann", "jti": "x"})


def _details(app) -> str:  # type: ignore[no-untyped-def]
    with app.app_context():
        return json.dumps([e.detail for e in db.session.scalars(db.select(AuditEvent))])


@pytest.mark.parametrize("name", ["multipass", "token", "code", "id_token", "access_token", "refresh_token", "sso",
                                  "sig", "Multipass", "multi%70ass"])
def test_token_parameters_are_scrubbed(name: str) -> None:
    value = "abc123-short"
    text = f"https://app.example/login?lang=en&{name}={value}&x=1#frag"
    scrubbed = scrub(text)
    assert value not in scrubbed and "[removed]" in scrubbed
    assert "lang=en" in scrubbed and "x=1" in scrubbed
    assert value not in scrub(f"https://app.example/cb#{name}={value}")  # in a fragment, as implicit flows do


@pytest.mark.parametrize("text", [
    f"/invoices?next={JWT}",
    f"bearer {JWT}",
    "/login/multipass/" + _token(),
    "/x?return_to=" + quote("/y?multipass=" + _token(), safe=""),
    "/x?return_to=" + quote(quote("/y?code=abc-short-code", safe=""), safe=""),
])
def test_blobs_and_hidden_tokens_are_scrubbed(text: str) -> None:
    scrubbed = scrub(text)
    assert "[removed]" in scrubbed
    for secret in (JWT, _token()[:40], "abc-short-code"):
        assert secret not in scrubbed


@pytest.mark.parametrize("text", [
    "/invoices/42?tab=due", "https://invoices.example/login", "ann@example.com", "Ann Example",
    "https://invoices.example/a-rather-long-page-name-with-many-words", "jump", "0123456789abcdef0123456789abcdef",
    "login_url", "/reports?year=2024&code_page=1",
])
def test_harmless_values_are_kept(text: str) -> None:
    assert scrub(text) == text


def test_a_return_to_carrying_a_token_is_audited_without_it(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    """The finding: a return_to with ?multipass=<token> reached the audit log whole."""
    slug, _secret = connected_app
    token = _token()
    auth.login()
    kept = client.get(f"/sso/jump/{slug}", query_string={"return_to": f"/invoices?multipass={token}"})
    assert kept.status_code == 302
    refused = client.get(f"/sso/jump/{slug}", query_string={"return_to": f"https://evil.example/?multipass={token}"})
    assert refused.status_code == 302
    client.get(f"/sso/multipass/{slug}", query_string={"login_url": f"https://invoices.example/x?token={token}"})
    details = _details(app)
    assert "return_to" in details
    assert token not in details and token[:30] not in details
    assert details.count("[removed]") >= 3
    with app.app_context():
        events = [e.event for e in db.session.scalars(db.select(AuditEvent))]
        assert events.count("jump") == 2 and events.count("redirect_refused") == 2


def test_detail_keys_named_like_tokens_are_removed(app) -> None:  # type: ignore[no-untyped-def]
    from sso.audit import record

    with app.app_context():
        row = record("redirect_refused", detail={"token": "short", "parameter": "x", "n": 3})
        assert row is not None and row.detail == {"token": "[removed]", "parameter": "x", "n": 3}


# -- anonymous refusals ---------------------------------------------------------------------------


def _refusals(app) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.event == "redirect_refused").order_by(AuditEvent.id)))


def test_anonymous_refusals_are_aggregated_per_ip_and_app(app, client, connected_app, clock) -> None:  # type: ignore[no-untyped-def]
    slug, _secret = connected_app
    url = f"/sso/multipass/{slug}?login_url=https://evil.example/steal"
    for _ in range(100):
        assert client.get(url).status_code == 400  # every one still refused
    assert len(_refusals(app)) == 1
    other = app.test_client()
    assert other.get(url, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 400
    assert len(_refusals(app)) == 2  # another client IP has its own row
    clock.advance(59)
    client.get(url)
    assert len(_refusals(app)) == 2
    clock.advance(1)
    client.get(url)
    rows = _refusals(app)
    assert len(rows) == 3
    assert rows[-1].detail["unrecorded_before"] == 100 and rows[-1].ip == "127.0.0.1"
    assert rows[-1].actor == "anonymous"


def test_signed_in_users_refusals_stay_individual(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    slug, _secret = connected_app
    auth.login()
    for _ in range(5):
        client.get(f"/sso/multipass/{slug}?login_url=https://evil.example/steal")
    rows = _refusals(app)
    assert len(rows) == 5 and all(r.actor == "ann" for r in rows)


def _rows(app, event: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)))


def test_anonymous_oidc_refusals_are_aggregated_too(app, client, clock) -> None:  # type: ignore[no-untyped-def]
    """The OpenID Connect endpoints refuse anonymous requests before any login as well: a
    row per request let one client write ~hundreds of rows a second (one per client_id too)."""
    for n in range(50):
        authorize = client.get("/oidc/authorize", query_string={
            "client_id": f"nope-{n}", "response_type": "code", "redirect_uri": "https://evil.example/"})
        assert authorize.status_code == 400  # every one still refused
        assert client.get("/oidc/logout", query_string={"id_token_hint": "x"}).status_code == 400
    rows = _rows(app, "oidc_refused")
    assert len(rows) == 2 and {r.detail.get("endpoint") for r in rows} == {None, "end_session"}
    other = app.test_client()
    other.get("/oidc/authorize?client_id=x&response_type=code", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert len(_rows(app, "oidc_refused")) == 3  # another client IP has its own row
    clock.advance(60)
    client.get("/oidc/authorize?client_id=x&response_type=code")
    rows = _rows(app, "oidc_refused")
    assert len(rows) == 4 and rows[-1].detail["unrecorded_before"] == 49 and rows[-1].actor == "anonymous"
