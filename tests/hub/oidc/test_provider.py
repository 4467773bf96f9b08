"""The provider over real HTTP on loopback, driven by authlib's own OAuth 2 client (httpx).

Each rule of issue 11 has a test here: discovery, code + PKCE S256 for every client, exact
redirect_uri, iss in the response, token exchange with the ID token checked against
jwks_uri, userinfo (GET, POST header and POST body), refresh rotation and family
revocation, revocation, atomic single-use codes and their replay, expiry, client auth.
"""

from __future__ import annotations

import concurrent.futures
import json

import httpx
import pytest
from authlib.integrations.requests_client import OAuth2Session as OAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.hub.oidc.conftest import POST_LOGOUT, REDIRECT, LiveHub, pkce, query_of


def discovery(hub: LiveHub) -> dict:
    return httpx.get(hub.url + "/.well-known/openid-configuration").json()


def authorize(browser: httpx.Client, **params: str) -> httpx.Response:
    return browser.get("/oidc/authorize", params=params)


def start(hub: LiveHub, browser: httpx.Client, client_id: str = "helpdesk", scope: str = "openid profile email",
          nonce: str | None = "n-0S6_WzA2Mj", **extra: str) -> tuple[str, str]:
    """Authorize with PKCE S256 through authlib's client; returns (code, verifier)."""
    verifier, _ = pkce()
    rp = OAuth2Client(client_id=client_id, redirect_uri=REDIRECT, scope=scope, code_challenge_method="S256")
    params = {"nonce": nonce} if nonce else {}
    url, state = rp.create_authorization_url(discovery(hub)["authorization_endpoint"], code_verifier=verifier,
                                             **params, **extra)
    response = browser.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = query_of(location)
    assert query["state"] == state
    assert query["iss"] == hub.url
    return query["code"], verifier


def exchange(hub: LiveHub, code: str, verifier: str, client_id: str = "helpdesk",
             secret: str | None = None, auth: str = "client_secret_basic") -> dict:
    secret = hub.confidential_secret if secret is None and client_id == "helpdesk" else secret
    rp = OAuth2Client(client_id=client_id, client_secret=secret, redirect_uri=REDIRECT,
                      token_endpoint_auth_method=auth if secret else "none")
    return dict(rp.fetch_token(discovery(hub)["token_endpoint"], code=code, code_verifier=verifier))


def verified_id_token(hub: LiveHub, id_token: str, client_id: str = "helpdesk", nonce: str | None = None,
                      access_token: str | None = None) -> dict:
    jwks = KeySet.import_key_set(httpx.get(discovery(hub)["jwks_uri"]).json())
    token = jwt.decode(id_token, jwks, algorithms=["RS256", "ES256"])
    assert token.header["kid"]
    options = {"iss": {"values": [hub.url]}, "aud": {"values": [client_id]}}
    claims = CodeIDToken(token.claims, token.header, options, {"nonce": nonce, "access_token": access_token})
    claims.validate(now=int(hub.clock.time()))  # type: ignore[attr-defined]
    return dict(token.claims)


def test_discovery_names_the_endpoints_and_only_code_s256(live_hub: LiveHub) -> None:
    from authlib.oidc.discovery import OpenIDProviderMetadata

    meta = discovery(live_hub)
    OpenIDProviderMetadata(meta).validate()
    assert meta["issuer"] == live_hub.url
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "none" not in meta["id_token_signing_alg_values_supported"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    jwks = httpx.get(meta["jwks_uri"]).json()
    assert {k["alg"] for k in jwks["keys"]} == {"RS256", "ES256"}
    assert all("d" not in k for k in jwks["keys"])


def test_code_flow_confidential_client(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    code, verifier = start(live_hub, browser, nonce="abc-nonce")
    token = exchange(live_hub, code, verifier)
    assert token["token_type"].lower() == "bearer" and token["expires_in"] == 600
    assert "refresh_token" in token
    claims = verified_id_token(live_hub, token["id_token"], nonce="abc-nonce", access_token=token["access_token"])
    assert claims["nonce"] == "abc-nonce"
    assert claims["sub"] not in {"ann", "2", "ann@example.com"} and len(claims["sub"]) >= 32
    assert claims["preferred_username"] == "ann" and claims["email"] == "ann@example.com"
    assert claims["email_verified"] is True
    assert claims["given_name"] == "Ann" and claims["family_name"] == "Example" and claims["name"] == "Ann Example"
    assert claims["auth_time"] <= claims["iat"] and claims["at_hash"]
    header = json.loads(__import__("base64").urlsafe_b64decode(token["id_token"].split(".")[0] + "=="))
    assert header["alg"] == "RS256" and header["kid"]
    userinfo = httpx.get(discovery(live_hub)["userinfo_endpoint"],
                         headers={"Authorization": f"Bearer {token['access_token']}"})
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == claims["sub"] and userinfo.json()["email"] == "ann@example.com"


def test_client_secret_post_works_too(live_hub: LiveHub) -> None:
    code, verifier = start(live_hub, live_hub.browser())
    token = exchange(live_hub, code, verifier, auth="client_secret_post")
    assert token["access_token"]


def test_public_client_es256(live_hub: LiveHub) -> None:
    code, verifier = start(live_hub, live_hub.browser(), client_id="spa")
    token = exchange(live_hub, code, verifier, client_id="spa")
    claims = verified_id_token(live_hub, token["id_token"], client_id="spa", nonce="n-0S6_WzA2Mj",
                               access_token=token["access_token"])
    header = json.loads(__import__("base64").urlsafe_b64decode(token["id_token"].split(".")[0] + "=="))
    assert header["alg"] == "ES256"
    assert claims["aud"] == "spa"


def test_sub_is_pairwise_and_stable(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    first = verified_id_token(live_hub, exchange(live_hub, *start(live_hub, browser))["id_token"], nonce="n-0S6_WzA2Mj")
    again = verified_id_token(live_hub, exchange(live_hub, *start(live_hub, browser))["id_token"], nonce="n-0S6_WzA2Mj")
    spa = verified_id_token(live_hub, exchange(live_hub, *start(live_hub, browser, client_id="spa"),
                                               client_id="spa")["id_token"], client_id="spa", nonce="n-0S6_WzA2Mj")
    assert first["sub"] == again["sub"] != spa["sub"]


def test_userinfo_post_with_token_in_body_and_in_header(live_hub: LiveHub) -> None:
    token = exchange(live_hub, *start(live_hub, live_hub.browser()))
    endpoint = discovery(live_hub)["userinfo_endpoint"]
    body = httpx.post(endpoint, data={"access_token": token["access_token"]})
    header = httpx.post(endpoint, headers={"Authorization": f"Bearer {token['access_token']}"})
    assert body.status_code == header.status_code == 200
    assert body.json() == header.json()
    assert httpx.get(endpoint).status_code == 401
    assert httpx.get(endpoint, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_scope_limits_the_claims(live_hub: LiveHub) -> None:
    token = exchange(live_hub, *start(live_hub, live_hub.browser(), scope="openid"))
    info = httpx.get(discovery(live_hub)["userinfo_endpoint"],
                     headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert set(info) == {"sub"}


def test_groups_claim_from_the_hook(live_hub: LiveHub) -> None:
    from sso.oidc import hooks

    hooks.set_group_source(lambda user, app: ["sales", "staff"], app=live_hub.app)  # type: ignore[arg-type]
    token = exchange(live_hub, *start(live_hub, live_hub.browser(), scope="openid groups"))
    claims = verified_id_token(live_hub, token["id_token"], nonce="n-0S6_WzA2Mj")
    assert claims["groups"] == ["sales", "staff"]


# -- refresh, revocation ------------------------------------------------------------------


def refresh(hub: LiveHub, refresh_token: str) -> httpx.Response:
    return httpx.post(discovery(hub)["token_endpoint"], data={"grant_type": "refresh_token",
                      "refresh_token": refresh_token}, auth=("helpdesk", hub.confidential_secret))


def test_refresh_rotates_and_keeps_auth_time(live_hub: LiveHub) -> None:
    token = exchange(live_hub, *start(live_hub, live_hub.browser()))
    first = verified_id_token(live_hub, token["id_token"], nonce="n-0S6_WzA2Mj")
    live_hub.clock.advance(120)  # type: ignore[attr-defined]
    response = refresh(live_hub, token["refresh_token"])
    assert response.status_code == 200, response.text
    new = response.json()
    assert new["refresh_token"] != token["refresh_token"]
    claims = verified_id_token(live_hub, new["id_token"], access_token=new["access_token"])
    assert claims["auth_time"] == first["auth_time"] and claims["iat"] >= first["iat"] + 120
    assert claims["sub"] == first["sub"] and "nonce" not in claims


def test_reusing_a_rotated_refresh_token_revokes_the_family(live_hub: LiveHub) -> None:
    token = exchange(live_hub, *start(live_hub, live_hub.browser()))
    new = refresh(live_hub, token["refresh_token"]).json()
    reused = refresh(live_hub, token["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert refresh(live_hub, new["refresh_token"]).status_code == 400  # the family is gone
    endpoint = discovery(live_hub)["userinfo_endpoint"]
    assert httpx.get(endpoint, headers={"Authorization": f"Bearer {new['access_token']}"}).status_code == 401


def test_refresh_tokens_are_off_unless_enabled(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    verifier, challenge = pkce()
    params = _params("outside", code_challenge=challenge)
    allowed = browser.post("/oidc/authorize", params=params, data={"decision": "allow"})
    code = query_of(allowed.headers["location"])["code"]
    token = exchange(live_hub, code, verifier, client_id="outside", secret="outside-secret-0123456789")
    assert token["access_token"] and "refresh_token" not in token
    response = httpx.post(discovery(live_hub)["token_endpoint"], data={
        "grant_type": "refresh_token", "refresh_token": "anything"}, auth=("outside", "outside-secret-0123456789"))
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_revocation_of_access_and_refresh_tokens(live_hub: LiveHub) -> None:
    token = exchange(live_hub, *start(live_hub, live_hub.browser()))
    endpoint = discovery(live_hub)["revocation_endpoint"]
    userinfo = discovery(live_hub)["userinfo_endpoint"]
    auth = ("helpdesk", live_hub.confidential_secret)
    assert httpx.post(endpoint, data={"token": token["access_token"]}, auth=auth).status_code == 200
    assert httpx.get(userinfo, headers={"Authorization": f"Bearer {token['access_token']}"}).status_code == 401
    assert httpx.post(endpoint, data={"token": token["refresh_token"], "token_type_hint": "refresh_token"},
                      auth=auth).status_code == 200
    assert refresh(live_hub, token["refresh_token"]).status_code == 400
    # wrong client authentication is refused
    assert httpx.post(endpoint, data={"token": "x"}, auth=("helpdesk", "wrong")).status_code == 401


# -- negative rules -----------------------------------------------------------------------


def _params(client_id: str = "helpdesk", **overrides: str) -> dict[str, str]:
    _, challenge = pkce()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "openid",
              "state": "st", "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v != ""}


def test_missing_redirect_uri_is_refused_with_a_page(live_hub: LiveHub) -> None:
    response = authorize(live_hub.browser(), **_params(redirect_uri=""))
    assert response.status_code == 400 and "redirect_uri" in response.text
    assert "location" not in response.headers


@pytest.mark.parametrize("uri", [REDIRECT + "/", REDIRECT + "?x=1", "http://127.0.0.1:9/CALLBACK",
                                 "http://127.0.0.1:9/callback#f", "https://evil.example/callback"])
def test_mismatched_redirect_uri_is_refused(live_hub: LiveHub, uri: str) -> None:
    response = authorize(live_hub.browser(), **_params(redirect_uri=uri))
    assert response.status_code == 400 and "location" not in response.headers


@pytest.mark.parametrize("client_id", ["helpdesk", "spa"])
def test_pkce_required_for_every_client(live_hub: LiveHub, client_id: str) -> None:
    response = authorize(live_hub.browser(), **_params(client_id, code_challenge="", code_challenge_method=""))
    assert response.status_code == 302
    query = query_of(response.headers["location"])
    assert query["error"] == "invalid_request" and query["state"] == "st" and query["iss"] == live_hub.url


@pytest.mark.parametrize("method", ["plain", ""])
def test_plain_pkce_is_refused(live_hub: LiveHub, method: str) -> None:
    response = authorize(live_hub.browser(), **_params(code_challenge_method=method))
    assert query_of(response.headers["location"])["error"] == "invalid_request"


def test_implicit_and_hybrid_are_refused(live_hub: LiveHub) -> None:
    for response_type in ("token", "id_token", "code id_token"):
        response = authorize(live_hub.browser(), **_params(response_type=response_type))
        assert response.status_code in (302, 400)
        if response.status_code == 302:
            assert "error=" in response.headers["location"] and "code=" not in response.headers["location"]


def test_wrong_verifier_fails(live_hub: LiveHub) -> None:
    code, _ = start(live_hub, live_hub.browser())
    with pytest.raises(Exception, match="invalid_grant"):
        exchange(live_hub, code, "x" * 50)


def test_code_reuse_is_refused_and_revokes_the_tokens(live_hub: LiveHub) -> None:
    code, verifier = start(live_hub, live_hub.browser())
    token = exchange(live_hub, code, verifier)
    with pytest.raises(Exception, match="invalid_grant"):
        exchange(live_hub, code, verifier)
    userinfo = discovery(live_hub)["userinfo_endpoint"]
    assert httpx.get(userinfo, headers={"Authorization": f"Bearer {token['access_token']}"}).status_code == 401
    assert refresh(live_hub, token["refresh_token"]).status_code == 400


def test_concurrent_redemptions_have_one_winner(live_hub: LiveHub) -> None:
    for _round in range(3):
        code, verifier = start(live_hub, live_hub.browser())
        endpoint = discovery(live_hub)["token_endpoint"]

        def redeem(_: int, code: str = code, verifier: str = verifier, endpoint: str = endpoint) -> int:
            return httpx.post(endpoint, data={"grant_type": "authorization_code", "code": code,
                                              "redirect_uri": REDIRECT, "code_verifier": verifier},
                              auth=("helpdesk", live_hub.confidential_secret), timeout=20).status_code

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(redeem, range(6)))
        assert sorted(statuses) == [200] + [400] * 5


def test_expired_code_is_refused(live_hub: LiveHub) -> None:
    code, verifier = start(live_hub, live_hub.browser())
    live_hub.clock.advance(61)  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="invalid_grant"):
        exchange(live_hub, code, verifier)


def test_code_for_another_client_is_refused(live_hub: LiveHub) -> None:
    code, verifier = start(live_hub, live_hub.browser(), client_id="spa")
    with pytest.raises(Exception, match="invalid_grant"):
        exchange(live_hub, code, verifier)  # helpdesk redeems spa's code


def test_token_redirect_uri_must_match(live_hub: LiveHub) -> None:
    code, verifier = start(live_hub, live_hub.browser())
    response = httpx.post(discovery(live_hub)["token_endpoint"], data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT + "x", "code_verifier": verifier,
    }, auth=("helpdesk", live_hub.confidential_secret))
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("auth", [("helpdesk", "wrong-secret"), ("spa", ""), ("nobody", "x")])
def test_wrong_client_authentication(live_hub: LiveHub, auth: tuple[str, str]) -> None:
    code, verifier = start(live_hub, live_hub.browser())
    response = httpx.post(discovery(live_hub)["token_endpoint"], data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier,
    }, auth=auth)
    assert response.status_code in (400, 401) and response.json()["error"] in ("invalid_client", "invalid_grant")


def test_confidential_client_cannot_skip_authentication(live_hub: LiveHub) -> None:
    code, verifier = start(live_hub, live_hub.browser())
    response = httpx.post(discovery(live_hub)["token_endpoint"], data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier,
        "client_id": "helpdesk",
    })
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


def test_not_logged_in_goes_to_the_hub_login(live_hub: LiveHub) -> None:
    anonymous = httpx.Client(base_url=live_hub.url)
    response = authorize(anonymous, **_params())
    assert response.status_code == 302 and response.headers["location"].startswith("/login?next=")
    response = authorize(anonymous, **_params(prompt="none"))
    assert query_of(response.headers["location"])["error"] == "login_required"


def test_disabled_app_and_no_access(live_hub: LiveHub) -> None:
    from sso.base.db import db
    from sso.connected_apps.service import get_app, update_connected_app
    from sso.oidc import hooks

    browser = live_hub.browser()
    hooks.set_access_check(lambda user, app: app.slug != "helpdesk", app=live_hub.app)  # type: ignore[arg-type]
    response = authorize(browser, **_params())
    assert query_of(response.headers["location"])["error"] == "access_denied"
    hooks.set_access_check(lambda user, app: True, app=live_hub.app)  # type: ignore[arg-type]
    with live_hub.app.app_context():  # type: ignore[attr-defined]
        update_connected_app(get_app("helpdesk"), enabled=False)
        db.session.remove()
    response = authorize(browser, **_params())
    assert response.status_code == 400 and "location" not in response.headers


def test_deactivated_user_loses_userinfo_and_refresh(live_hub: LiveHub) -> None:
    from sso.accounts.service import deactivate_user, find_user
    from sso.base.db import db

    token = exchange(live_hub, *start(live_hub, live_hub.browser()))
    with live_hub.app.app_context():  # type: ignore[attr-defined]
        user = find_user("ann")
        assert user is not None
        deactivate_user(user)
        db.session.remove()
    userinfo = discovery(live_hub)["userinfo_endpoint"]
    assert httpx.get(userinfo, headers={"Authorization": f"Bearer {token['access_token']}"}).status_code == 401
    assert refresh(live_hub, token["refresh_token"]).status_code == 400


# -- RP-initiated logout -----------------------------------------------------------------


def test_rp_initiated_logout_with_hint_ends_the_hub_session(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    token = exchange(live_hub, *start(live_hub, browser))
    response = browser.get("/oidc/logout", params={"id_token_hint": token["id_token"],
                                                   "post_logout_redirect_uri": POST_LOGOUT, "state": "bye"})
    assert response.status_code == 302 and response.headers["location"] == POST_LOGOUT + "?state=bye"
    assert browser.get("/").status_code == 302  # logged out at the hub


def test_logout_to_an_unregistered_uri_is_refused(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    token = exchange(live_hub, *start(live_hub, browser))
    response = browser.get("/oidc/logout", params={"id_token_hint": token["id_token"],
                                                   "post_logout_redirect_uri": "https://evil.example/"})
    assert response.status_code == 400 and "location" not in response.headers
    assert browser.get("/").status_code == 200  # still logged in


def test_forged_or_unsigned_id_token_hint_is_refused(live_hub: LiveHub) -> None:
    from joserfc.jwk import RSAKey

    browser = live_hub.browser()
    token = exchange(live_hub, *start(live_hub, browser))
    claims = jwt.decode(token["id_token"], KeySet.import_key_set(httpx.get(discovery(live_hub)["jwks_uri"]).json())).claims
    header = json.loads(__import__("base64").urlsafe_b64decode(token["id_token"].split(".")[0] + "=="))
    forged = jwt.encode(header, claims, RSAKey.generate_key(2048, private=True), algorithms=["RS256"])
    def b64(data: dict) -> str:
        return __import__("base64").urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{b64({'alg': 'none', 'kid': header['kid']})}.{b64(dict(claims))}."
    for hint in (forged, unsigned, token["id_token"][:-4] + "AAAA"):
        response = browser.get("/oidc/logout", params={"id_token_hint": hint, "post_logout_redirect_uri": POST_LOGOUT})
        assert response.status_code == 400, hint
    assert browser.get("/").status_code == 200


def test_logout_without_hint_asks_first(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    page = browser.get("/oidc/logout")
    assert page.status_code == 200 and "Log out?" in page.text
    assert browser.get("/").status_code == 200
    confirmed = browser.post("/oidc/logout")
    assert confirmed.status_code == 200 and "logged out" in confirmed.text
    assert browser.get("/").status_code == 302


# -- consent -------------------------------------------------------------------------------


def test_consent_for_a_third_party_app_is_asked_remembered_and_revocable(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    params = _params("outside", scope="openid email")
    page = authorize(browser, **params)
    assert page.status_code == 200 and "Outside Tool" in page.text and "e-mail" in page.text
    denied = browser.post("/oidc/authorize", params=params, data={"decision": "deny"})
    assert query_of(denied.headers["location"])["error"] == "access_denied"
    allowed = browser.post("/oidc/authorize", params=params, data={"decision": "allow"})
    assert "code" in query_of(allowed.headers["location"])
    again = authorize(browser, **_params("outside", scope="openid email"))
    assert again.status_code == 302 and "code" in query_of(again.headers["location"])  # remembered
    more = authorize(browser, **_params("outside", scope="openid email profile"))
    assert more.status_code == 200  # a new scope asks again
    assert "Outside Tool" in browser.get("/account/apps").text
    assert browser.post("/account/apps/outside/revoke").status_code == 302
    assert authorize(browser, **_params("outside", scope="openid email")).status_code == 200
    none = authorize(browser, **_params("outside", scope="openid email", prompt="none"))
    assert query_of(none.headers["location"])["error"] == "consent_required"


def test_first_party_app_skips_consent(live_hub: LiveHub) -> None:
    response = authorize(live_hub.browser(), **_params())
    assert response.status_code == 302 and "code" in query_of(response.headers["location"])


def _oidc_audit(hub: LiveHub) -> list[tuple[str, str | None, dict]]:
    from sso.audit import flush
    from sso.audit.models import AuditEvent
    from sso.base.db import db

    with hub.app.app_context():  # type: ignore[attr-defined]
        flush()
        rows = db.session.scalars(db.select(AuditEvent).where(AuditEvent.event.like("oidc_%")).order_by(AuditEvent.id))
        return [(row.event, row.app_slug, row.detail) for row in rows]


def test_a_code_and_a_refusal_each_leave_their_audit_row(live_hub: LiveHub) -> None:
    """The authorization use case records ``oidc_authorize`` with the code; a refused
    request records ``oidc_refused`` (the view only maps the answer)."""
    browser = live_hub.browser()
    start(live_hub, browser, scope="openid email")
    response = authorize(browser, **_params(code_challenge_method="plain"))
    assert response.status_code == 302 and "error=" in response.headers["location"]
    events = _oidc_audit(live_hub)
    assert [(event, app) for event, app, _ in events] == [("oidc_authorize", "helpdesk"), ("oidc_refused", "helpdesk")]
    assert events[0][2] == {"scope": "openid email"} and events[1][2]["error"] == "invalid_request"
