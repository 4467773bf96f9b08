"""Signing keys (first start, JWKS, rotation), the CLI forms, back-channel logout."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.conftest import free_port
from tests.hub.oidc.conftest import LiveHub
from tests.hub.oidc.test_provider import discovery, exchange, start


def test_keys_generated_on_first_use_and_stored_encrypted(app) -> None:  # type: ignore[no-untyped-def]
    from sso.base.db import db
    from sso.oidc import keys
    from sso.oidc.models import OidcKey

    with app.app_context():
        assert db.session.query(OidcKey).count() == 0
        jwks = keys.public_jwks()
        rows = db.session.query(OidcKey).all()
        assert {r.alg for r in rows} == {"RS256", "ES256"}
        from sso.connected_apps.service import secret_box

        for row in rows:
            assert row.encrypted_jwk.startswith("gAAAAA") and "{" not in row.encrypted_jwk  # Fernet token
            assert "d" in json.loads(secret_box().decrypt(row.encrypted_jwk))  # the private key, encrypted
        assert {k["kid"] for k in jwks["keys"]} == {r.kid for r in rows}
        assert keys.public_jwks() == jwks  # no new key on the next start


def test_rotation_publishes_before_signing_and_keeps_the_old_key(app, clock, runner) -> None:  # type: ignore[no-untyped-def]
    from sso.oidc import keys

    with app.app_context():
        old_kid, _ = keys.signing_key("RS256")
    result = runner.invoke(args=["oidc", "rotate-key", "--alg", "RS256", "--publish-ahead", "300"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        published = {k["kid"] for k in keys.public_jwks()["keys"]}
        new_kid = next(k for k in published if k.startswith("rs256") and k != old_kid)
        assert old_kid in published
        assert keys.signing_key("RS256")[0] == old_kid  # published, not signing yet
        clock.advance(301)
        assert keys.signing_key("RS256")[0] == new_kid
        assert old_kid in {k["kid"] for k in keys.public_jwks()["keys"]}  # its ID tokens may be alive
        clock.advance(int(app.config["OIDC_ID_TOKEN_LIFETIME"]) + 1)
        assert old_kid not in {k["kid"] for k in keys.public_jwks()["keys"]}
        assert new_kid in {k["kid"] for k in keys.public_jwks()["keys"]}


def test_apps_add_oidc_cli_forms(app, runner) -> None:  # type: ignore[no-untyped-def]
    from sso.base.db import db
    from sso.oidc.server import token_hash
    from sso.oidc.service import get_client

    result = runner.invoke(args=[
        "apps", "add", "wiki", "--name", "Wiki", "--protocol", "oidc",
        "--redirect-uri", "https://wiki.example/oidc/callback", "--redirect-uri", "https://wiki.example/cb2",
        "--post-logout-redirect-uri", "https://wiki.example/bye",
        "--backchannel-logout-uri", "https://wiki.example/oidc/backchannel"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert len(secret) >= 43 and secret.replace("-", "").replace("_", "").isalnum()  # URL-safe
    pasted = runner.invoke(args=["apps", "add", "board", "--name", "Board", "--protocol", "oidc",
                                 "--redirect-uri", "https://board.example/cb", "--secret-stdin"],
                           input="pasted-secret-0123456789\n")
    assert pasted.exit_code == 0 and "pasted-secret" not in pasted.output
    public = runner.invoke(args=["apps", "add", "spa", "--name", "SPA", "--protocol", "oidc",
                                 "--redirect-uri", "http://127.0.0.1:8080/cb", "--public"])
    assert public.exit_code == 0 and "no secret" in public.output
    with app.app_context():
        wiki = get_client("wiki")
        assert wiki.redirect_uris == ["https://wiki.example/oidc/callback", "https://wiki.example/cb2"]
        assert wiki.secret_hash == token_hash(secret) and secret not in json.dumps(wiki.redirect_uris)
        assert wiki.first_party and not wiki.public and wiki.backchannel_logout_uri
        assert get_client("spa").public and get_client("spa").secret_hash is None
        from sso.audit.models import AuditEvent

        assert not any(secret in json.dumps(e.detail) for e in db.session.query(AuditEvent).all())
    for bad in (["--redirect-uri", "http://wiki.example/cb"], ["--redirect-uri", "https://x.example/cb#frag"], []):
        refused = runner.invoke(args=["apps", "add", "bad", "--name", "Bad", "--protocol", "oidc", *bad])
        assert refused.exit_code != 0
    multipass = runner.invoke(args=["apps", "add", "mp", "--name", "MP"])
    assert multipass.exit_code != 0 and "--login-url" in multipass.output


@pytest.fixture
def backchannel_receiver() -> Iterator[tuple[str, list[str]]]:
    received: list[str] = []

    @Request.application
    def receive(request: Request) -> Response:
        received.append(request.form.get("logout_token", ""))
        return Response("", 200)

    port = free_port()
    server = make_server("127.0.0.1", port, receive, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/backchannel", received
    server.shutdown()
    thread.join(5)


def test_hub_logout_reaches_the_app_by_back_channel(live_hub: LiveHub, backchannel_receiver) -> None:  # type: ignore[no-untyped-def]
    from sso.base.db import db
    from sso.oidc.service import get_client

    uri, received = backchannel_receiver
    with live_hub.app.app_context():  # type: ignore[attr-defined]
        get_client("helpdesk").backchannel_logout_uri = uri
        db.session.commit()
        db.session.remove()
    browser = live_hub.browser()
    token = exchange(live_hub, *start(live_hub, browser))
    jwks = KeySet.import_key_set(httpx.get(discovery(live_hub)["jwks_uri"]).json())
    id_claims = jwt.decode(token["id_token"], jwks).claims
    assert browser.post("/logout").status_code == 200
    assert len(received) == 1
    logout = jwt.decode(received[0], jwks, algorithms=["RS256"])
    assert logout.header["typ"] == "logout+jwt" and logout.header["kid"]
    claims = logout.claims
    assert claims["iss"] == live_hub.url and claims["aud"] == "helpdesk"
    assert claims["sub"] == id_claims["sub"] and claims["sid"] == id_claims["sid"]
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"] and "nonce" not in claims
    userinfo = discovery(live_hub)["userinfo_endpoint"]
    assert httpx.get(userinfo, headers={"Authorization": f"Bearer {token['access_token']}"}).status_code == 401


def test_deactivation_reaches_the_app_by_back_channel(live_hub: LiveHub, backchannel_receiver) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import deactivate_user, find_user
    from sso.base.db import db
    from sso.oidc.service import get_client

    uri, received = backchannel_receiver
    with live_hub.app.app_context():  # type: ignore[attr-defined]
        get_client("helpdesk").backchannel_logout_uri = uri
        db.session.commit()
    exchange(live_hub, *start(live_hub, live_hub.browser()))
    with live_hub.app.app_context(), live_hub.app.test_request_context():  # type: ignore[attr-defined]
        user = find_user("ann")
        assert user is not None
        deactivate_user(user)
        db.session.remove()
    assert len(received) == 1


def test_rewrap_keys_under_a_new_fernet_key(app, runner) -> None:  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet

    from sso.base import context
    from sso.connected_apps.secrets import SecretBox
    from sso.oidc import keys

    with app.app_context():
        kid, _ = keys.signing_key("RS256")
    old = app.config["APP_SECRETS_KEYS"][0]
    new = Fernet.generate_key().decode()
    with app.app_context():
        context.hub_state().features["connected_apps"].box = SecretBox([new, old])
    result = runner.invoke(args=["oidc", "rewrap-keys"])
    assert result.exit_code == 0 and "Re-encrypted 2" in result.output
    with app.app_context():
        context.hub_state().features["connected_apps"].box = SecretBox([new])
        context.hub_state().features["oidc.keys"].keys.clear()
        assert keys.signing_key("RS256")[0] == kid  # readable with the new key alone
