"""What a worker keeps between requests (sso/oidc/clients.py, the key schedule) and the
database work a code flow costs with it.

A change made in this process drops the cache at once; a change another worker or
instance made (simulated here by a plain SQL UPDATE, which the ORM's flush events do not
see) takes effect within ``APP_CACHE_TTL`` (2 s of the app's clock)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import sqlalchemy as sa

from tests.hub.oidc.conftest import REDIRECT, LiveHub, pkce
from tests.hub.oidc.test_provider import exchange, start

OTHER = "http://127.0.0.1:9/other-callback"


def _authorize(browser: httpx.Client, redirect_uri: str) -> httpx.Response:
    _verifier, challenge = pkce()
    return browser.get("/oidc/authorize", params={
        "response_type": "code", "client_id": "helpdesk", "redirect_uri": redirect_uri, "scope": "openid",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"})


def _set_redirects_behind_the_orms_back(hub: LiveHub, uris: list[str]) -> None:
    """What another worker's change looks like to this one: rows changed, no flush seen here."""
    import json

    from sso.base.db import db

    with hub.app.app_context():  # type: ignore[attr-defined]
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE oidc_clients SET redirect_uris = :uris WHERE app_id = "
                "(SELECT id FROM connected_apps WHERE slug = 'helpdesk')"), {"uris": json.dumps(uris)})


def test_another_workers_change_is_seen_within_the_ttl(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    assert "code=" in _authorize(browser, REDIRECT).headers["location"]  # cached now
    _set_redirects_behind_the_orms_back(live_hub, [OTHER])
    assert _authorize(browser, OTHER).status_code == 400  # still the cached settings
    live_hub.clock.advance(2.1)  # type: ignore[attr-defined]
    assert "code=" in _authorize(browser, OTHER).headers["location"]
    assert _authorize(browser, REDIRECT).status_code == 400


def test_a_change_made_in_this_worker_counts_at_once(live_hub: LiveHub) -> None:
    from sso.base.db import db
    from sso.oidc.service import get_client, new_client_secret, update_client

    browser = live_hub.browser()
    assert "code=" in _authorize(browser, REDIRECT).headers["location"]
    with live_hub.app.app_context():  # type: ignore[attr-defined]
        update_client(get_client("helpdesk"), name="Helpdesk", redirect_uris=[OTHER])
        db.session.remove()
    assert _authorize(browser, REDIRECT).status_code == 400
    assert "code=" in _authorize(browser, OTHER).headers["location"]
    # A new client secret: the old one stops working at once in this worker.
    with live_hub.app.app_context():  # type: ignore[attr-defined]
        update_client(get_client("helpdesk"), name="Helpdesk", redirect_uris=[REDIRECT])
        db.session.remove()
    code, verifier = start(live_hub, browser)
    with live_hub.app.app_context():  # type: ignore[attr-defined]
        new_secret = new_client_secret(get_client("helpdesk"))
        db.session.remove()
    refused = httpx.post(live_hub.url + "/oidc/token", auth=("helpdesk", live_hub.confidential_secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert "id_token" in exchange(live_hub, *start(live_hub, browser), secret=new_secret)


def test_the_pairwise_subject_is_the_same_from_the_cache(live_hub: LiveHub) -> None:
    from tests.hub.oidc.test_provider import verified_id_token

    browser = live_hub.browser()
    subs = {verified_id_token(live_hub, exchange(live_hub, *start(live_hub, browser))["id_token"])["sub"]
            for _ in range(3)}
    assert len(subs) == 1


@contextmanager
def _statements(hub: LiveHub) -> Iterator[list[str]]:
    from sso.base.db import db

    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement.split(None, 1)[0].upper())

    with hub.app.app_context():  # type: ignore[attr-defined]
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_a_code_flow_reads_only_what_changes_per_flow(live_hub: LiveHub) -> None:
    """Authorize, token, userinfo of a signed-in user, warm worker: the statements the flow
    needs (the session's user, the code, the token, the audit rows), nothing per client,
    key or subject (was 18 statements before the worker cache)."""
    browser = live_hub.browser()
    exchange(live_hub, *start(live_hub, browser))  # warm: client, keys, subject
    with _statements(live_hub) as authorize_statements:
        code, verifier = start(live_hub, browser)
    with _statements(live_hub) as token_statements:
        token = exchange(live_hub, code, verifier)
    with _statements(live_hub) as userinfo_statements:
        info = httpx.get(live_hub.url + "/oidc/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert info.status_code == 200
    # session user; code; login (insert-or-nothing); audit
    assert authorize_statements.count("SELECT") <= 1 and len(authorize_statements) <= 4, authorize_statements
    # code consumed and read in one UPDATE ... RETURNING; user; token; audit
    assert token_statements.count("SELECT") <= 1 and len(token_statements) <= 4, token_statements
    assert len(userinfo_statements) <= 2, userinfo_statements  # the token, its user
