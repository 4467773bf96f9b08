"""Signing in with Multipass tokens, the diversion to the hub, and logging out."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from examples.invoicing.db import db
from examples.invoicing.models import Account
from sso.multipass import MultipassCodec

from .conftest import (
    HUB_URL,
    OLD_SECRET,
    OTHER_APP_SECRET,
    SECRET,
    AppFactory,
    account_count,
    add_account,
    csrf_token,
    signed_in_login,
)

Token = Callable[..., str]
INVALID = "This sign-in link is invalid, expired or was already used"


def assert_token_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert "no-store" in headers["Cache-Control"]
    assert headers["Referrer-Policy"] == "no-referrer"


def assert_refused(client: FlaskClient, url: str, status: int = 400, text: str = INVALID) -> str:
    response = client.get(url)
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert text in body
    assert 'href="/login"' in body or status != 400  # a way to sign in again
    assert_token_headers(response)
    assert signed_in_login(client) is None
    return body


# -- happy path ---------------------------------------------------------------------


def test_first_visit_creates_the_account_and_redirects_to_return_to(
    app: Flask, client: FlaskClient, token: Token
) -> None:
    response = client.get("/login?multipass=" + token(name="Ann Archer", return_to="/invoices/new"))
    assert response.status_code == 302
    assert response.location == "/invoices/new"
    assert_token_headers(response)
    assert signed_in_login(client) == "ann"
    with app.app_context():
        account = db.session.scalar(sa.select(Account))
        assert (account.login, account.email, account.name, account.active) == (
            "ann", "ann@example.com", "Ann Archer", True,
        )


def test_token_in_the_path_works_too(client: FlaskClient, token: Token) -> None:
    response = client.get("/login/multipass/" + token())
    assert response.status_code == 302 and response.location == "/"
    assert_token_headers(response)
    assert signed_in_login(client) == "ann"


def test_second_visit_signs_in_the_same_account(app: Flask, token: Token) -> None:
    app.test_client().get("/login?multipass=" + token())
    other_browser = app.test_client()
    # Letter case and white space differences still match the same account.
    assert other_browser.get("/login?multipass=" + token(login=" ANN", email="Ann@Example.com")).status_code == 302
    assert signed_in_login(other_browser) == "ann"
    assert account_count(app) == 1


def test_account_stored_in_another_unicode_form_signs_in(app: Flask, token: Token) -> None:
    # ß + combining acute folds to "ss" + U+0301, which composes to "sś": the pairing page
    # calls these two paired, so the sign-in must find the account too.
    add_account(app, "stras\u015be", "strasse@example.com")
    client = app.test_client()
    response = client.get("/login?multipass=" + token(login="stra\u00df\u0301e", email="STRASSE@example.com"))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert signed_in_login(client) == "stras\u015be"
    assert account_count(app) == 1


def test_login_renews_the_session(client: FlaskClient, token: Token) -> None:
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    client.get("/login?multipass=" + token())
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"]


def test_a_token_for_the_signed_in_user_needs_no_question(client: FlaskClient, token: Token) -> None:
    client.get("/login?multipass=" + token())
    response = client.get("/login?multipass=" + token(login="ANN", return_to="/invoices/new"))
    assert response.status_code == 302 and response.location == "/invoices/new"
    assert signed_in_login(client) == "ann"


# -- refused tokens -----------------------------------------------------------------


def test_replayed_token_is_refused(app: Flask, token: Token) -> None:
    used = token()
    assert app.test_client().get("/login?multipass=" + used).status_code == 302
    assert_refused(app.test_client(), "/login?multipass=" + used)
    assert_refused(app.test_client(), "/login/multipass/" + used)


def test_tampered_token_is_refused(client: FlaskClient, token: Token) -> None:
    good = token()
    middle = len(good) // 2
    tampered = good[:middle] + ("A" if good[middle] != "A" else "B") + good[middle + 1 :]
    assert_refused(client, "/login?multipass=" + tampered)


def test_expired_token_is_refused(client: FlaskClient, codec: MultipassCodec) -> None:
    old = codec.encode({"login": "ann", "email": "ann@example.com", "aud": "invoices"}, now=time.time() - 901)
    assert_refused(client, "/login?multipass=" + old)


def test_token_made_with_another_apps_secret_is_refused(client: FlaskClient) -> None:
    foreign = MultipassCodec(OTHER_APP_SECRET).encode({"login": "ann", "email": "ann@example.com", "aud": "invoices"})
    assert_refused(client, "/login?multipass=" + foreign)


@pytest.mark.parametrize("garbage", ["", "abc", "!!!!", "%00", "A" * 9000, "../../etc/passwd"])
def test_garbage_is_refused(client: FlaskClient, garbage: str) -> None:
    assert_refused(client, "/login?multipass=" + garbage)


def test_token_without_login_is_refused_clearly(client: FlaskClient, codec: MultipassCodec) -> None:
    assert_refused(client, "/login?multipass=" + codec.encode({"email": "ann@example.com", "aud": "invoices"}), 400,
                   "does not say which login")


def test_short_lifetime_from_config(make_app: AppFactory, codec: MultipassCodec) -> None:
    app = make_app(MULTIPASS_MAX_AGE=4)
    five_seconds_old = codec.encode({"login": "ann", "email": "ann@example.com", "aud": "invoices"}, now=time.time() - 5)
    assert_refused(app.test_client(), "/login?multipass=" + five_seconds_old)
    fresh = codec.encode({"login": "ann", "email": "ann@example.com", "aud": "invoices"})
    assert app.test_client().get("/login?multipass=" + fresh).status_code == 302


def test_rotation_accepts_old_and_new_secret(make_app: AppFactory) -> None:
    app = make_app(MULTIPASS_SECRETS=f"{SECRET} {OLD_SECRET}")  # as the environment gives it
    for secret in (SECRET, OLD_SECRET):
        client = app.test_client()
        claims = {"login": "ann", "email": "ann@example.com", "jti": secret, "aud": "invoices"}
        response = client.get("/login?multipass=" + MultipassCodec(secret).encode(claims))
        assert response.status_code == 302
        assert signed_in_login(client) == "ann"
    after_rotation = make_app(MULTIPASS_SECRETS=[SECRET])
    old = MultipassCodec(OLD_SECRET).encode({"login": "ann", "email": "ann@example.com", "aud": "invoices"})
    assert_refused(after_rotation.test_client(), "/login?multipass=" + old)


# -- return_to ----------------------------------------------------------------------

HOSTILE_RETURN_TO = [
    "//evil.example/", "/\\evil.example", "https:\\evil.example", "/%09/evil.example",
    "/x\r\nLocation: https://evil.example", "user@evil.example", "////evil.example",
    "https://evil.example/invoices", "http://localhost.evil.example/", "javascript:alert(1)",
    "/%20/evil.example", "/%252F/evil.example", "https://localhost/invoices", "http://localhost:8080/",
]


@pytest.mark.parametrize("return_to", HOSTILE_RETURN_TO)
def test_hostile_return_to_goes_home(client: FlaskClient, token: Token, return_to: str) -> None:
    response = client.get("/login?multipass=" + token(return_to=return_to))
    assert response.status_code == 302
    assert response.location == "/"
    assert signed_in_login(client) == "ann"


def test_own_origin_return_to_is_followed(client: FlaskClient, token: Token) -> None:
    response = client.get("/login?multipass=" + token(return_to="http://localhost/invoices?page=2"))
    assert response.status_code == 302
    assert response.location == "http://localhost/invoices?page=2"


# -- pairing refusals ---------------------------------------------------------------


def test_email_mismatch_page_names_what_differs(app: Flask, client: FlaskClient, token: Token) -> None:
    add_account(app, "bob", "bob@old-mail.example")
    body = assert_refused(client, "/login?multipass=" + token(login="bob", email="bob@example.com"), 403,
                          "not paired")
    assert "login bob is registered here with e-mail bob@old-mail.example, the hub sent bob@example.com" in body
    assert account_count(app) == 1


def test_login_mismatch_page_names_what_differs(app: Flask, client: FlaskClient, token: Token) -> None:
    add_account(app, "caroline", "carol@example.com")
    body = assert_refused(client, "/login?multipass=" + token(login="carol", email="carol@example.com"), 403,
                          "not paired")
    assert "e-mail carol@example.com is registered here under login caroline, the hub sent login carol" in body


def test_not_paired_page_speaks_to_the_end_user_and_does_not_loop(
    app: Flask, client: FlaskClient, token: Token
) -> None:
    add_account(app, "bob", "bob@old-mail.example")
    body = assert_refused(client, "/login?multipass=" + token(login="bob", email="bob@example.com"), 403,
                          "not paired")
    assert '<p class="message" id="message">Your account in Invoices does not match your hub account.</p>' in body
    assert '<p class="fix">Ask your administrator to pair them.</p>' in body
    detail = body.split('<details class="admin-detail">', 1)[1].split("</details>", 1)[0]
    assert "bob@old-mail.example" in detail and "bob@old-mail.example" not in body.split("<details", 1)[0]
    # The next step leaves the failure: the hub's start page, not this app's login (which would
    # fetch the same token for the same hub user and be refused again).
    assert 'id="sign-in-again"' not in body and 'href="/login"' not in body.split("</header>", 1)[1]
    assert f'id="back-to-hub" href="{app.config["HUB_URL"]}/"' in body


def test_an_expired_link_still_offers_to_sign_in_again(client: FlaskClient) -> None:
    body = assert_refused(client, "/login?multipass=not-a-token")
    assert 'id="sign-in-again" href="/login"' in body and 'id="back-to-hub"' not in body


def test_refusal_page_escapes_hostile_values(app: Flask, client: FlaskClient, token: Token) -> None:
    add_account(app, "mallory", "m@example.com")
    body = assert_refused(client, "/login?multipass=" + token(login="mallory", email="<script>@x.example"), 403,
                          "not paired")
    assert "<script>@" not in body and "&lt;script&gt;@x.example" in body


def test_inactive_account_is_refused(app: Flask, client: FlaskClient, token: Token) -> None:
    add_account(app, "ann", "ann@example.com", active=False)
    assert_refused(client, "/login?multipass=" + token(), 403, "deactivated")


def test_deactivation_ends_open_sessions(app: Flask, client: FlaskClient, token: Token) -> None:
    client.get("/login?multipass=" + token())
    with app.app_context():
        db.session.scalar(sa.select(Account)).active = False
        db.session.commit()
    assert signed_in_login(client) is None


# -- diversion to the hub -----------------------------------------------------------


def test_protected_page_keeps_the_path_asked_for(client: FlaskClient) -> None:
    response = client.get("/invoices?page=2")
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.location).query) == {"return_to": ["/invoices?page=2"]}


def test_login_diverts_to_the_hub(client: FlaskClient) -> None:
    response = client.get("/login?return_to=/invoices/new")
    target = urlsplit(response.location)
    assert response.status_code == 302
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{HUB_URL}/sso/multipass/invoices"
    assert parse_qs(target.query) == {"login_url": ["http://localhost/login"], "return_to": ["/invoices/new"]}


def test_login_diversion_drops_hostile_return_to_and_uses_the_slug(make_app: AppFactory) -> None:
    client = make_app(HUB_APP_SLUG="billing").test_client()
    target = urlsplit(client.get("/login?return_to=//evil.example/").location)
    assert target.path == "/sso/multipass/billing"
    assert parse_qs(target.query)["return_to"] == ["/"]


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("/invoices?page=2&multipass=TOKEN-XYZ", "/invoices?page=2"),
        ("/invoices?MultiPass=TOKEN-XYZ", "/invoices"),
        ("/invoices/new?multipass=TOKEN-XYZ&multipass=TOKEN-XYZ", "/invoices/new"),
    ],
)
def test_unauthorized_redirect_never_carries_a_token(client: FlaskClient, asked: str, expected: str) -> None:
    response = client.get(asked)
    assert response.status_code == 302 and "TOKEN-XYZ" not in response.location
    assert parse_qs(urlsplit(response.location).query) == {"return_to": [expected]}


@pytest.mark.parametrize(
    ("return_to", "expected"),
    [
        ("/invoices?multipass=TOKEN-XYZ", "/invoices"),
        ("/invoices?page=2&multipass=TOKEN-XYZ", "/invoices?page=2"),
        ("http://localhost/invoices?multipass=TOKEN-XYZ", "http://localhost/invoices"),
        ("/login/multipass/TOKEN-XYZ", "/"),
        ("/login?multipass=TOKEN-XYZ", "/"),
    ],
)
def test_diversion_to_the_hub_never_carries_a_token(client: FlaskClient, return_to: str, expected: str) -> None:
    response = client.get("/login", query_string={"return_to": return_to})
    assert response.status_code == 302 and "TOKEN-XYZ" not in response.location
    assert parse_qs(urlsplit(response.location).query)["return_to"] == [expected]


def test_return_to_inside_a_token_drops_a_token_too(client: FlaskClient, token: Token) -> None:
    response = client.get("/login?multipass=" + token(return_to="/invoices?multipass=TOKEN-XYZ"))
    assert response.status_code == 302 and response.location == "/invoices"


def test_login_when_signed_in_goes_straight_to_return_to(client: FlaskClient, token: Token) -> None:
    client.get("/login?multipass=" + token())
    assert client.get("/login?return_to=/invoices/new").location == "/invoices/new"


# -- logout -------------------------------------------------------------------------


def test_logout_needs_csrf_and_ends_the_session(client: FlaskClient, token: Token) -> None:
    client.get("/login?multipass=" + token())
    refused = client.post("/logout")
    assert refused.status_code == 400 and "Form expired" in refused.get_data(as_text=True)
    assert signed_in_login(client) == "ann"
    response = client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.location == "/signed-out"
    assert signed_in_login(client) is None
    assert "signed out of Invoicing" in client.get("/signed-out").get_data(as_text=True)


def test_frontchannel_logout_ends_the_session(client: FlaskClient, token: Token) -> None:
    client.get("/login?multipass=" + token())
    response = client.get("/logout/frontchannel")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    assert f"frame-ancestors {HUB_URL}" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers
    assert signed_in_login(client) is None


def test_other_pages_cannot_be_framed(client: FlaskClient) -> None:
    assert "frame-ancestors 'none'" in client.get("/signed-out").headers["Content-Security-Policy"]


def test_session_cookie_is_the_apps_own(app: Flask, client: FlaskClient, token: Token) -> None:
    response = client.get("/login?multipass=" + token())
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("invoicing_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_standard_base64_spelling_survives_query_and_path(app: Flask, token: Token) -> None:
    """Pitfall 6: "+" arrives as a space in a query string, "/" splits a path; both still work."""
    for attempt in range(40):  # find a token whose base64 holds both "-" and "_"
        urlsafe = token(jti=f"spelling-{attempt}")
        if "-" in urlsafe and "_" in urlsafe:
            break
    standard = urlsafe.replace("-", "+").replace("_", "/")
    query_client = app.test_client()
    response = query_client.get("/login?multipass=" + standard)  # "+" unencoded: read as " "
    assert response.status_code == 302 and signed_in_login(query_client) == "ann"
    for attempt in range(200):  # one with "__" (so "//" in the path), not starting with "_"
        again = token(jti=f"path-spelling-{attempt}")
        if "__" in again and not again.startswith("_"):
            break
    assert "__" in again
    path_client = app.test_client()
    assert path_client.get("/login/multipass/" + again.replace("_", "/")).status_code == 302
    assert signed_in_login(path_client) == "ann"


def test_a_token_for_another_audience_is_refused(client: FlaskClient, token: Token) -> None:
    """Another app's token (same secret by mistake, or replayed here) never signs anyone in."""
    assert_refused(client, "/login?multipass=" + token(aud="crm"))
    assert_refused(client, "/login?multipass=" + token(aud=None))  # no aud at all
    assert client.get("/login?multipass=" + token()).status_code == 302
    assert signed_in_login(client) == "ann"


def test_the_audience_follows_the_configuration(make_app: AppFactory, token: Token) -> None:
    from examples.invoicing.config import ConfigError

    billing = make_app(HUB_APP_SLUG="billing").test_client()  # default: the hub slug
    assert_refused(billing, "/login?multipass=" + token())
    assert billing.get("/login?multipass=" + token(aud="billing")).status_code == 302
    explicit = make_app(MULTIPASS_AUDIENCE="crm").test_client()
    assert explicit.get("/login?multipass=" + token(aud="crm")).status_code == 302
    with pytest.raises(ConfigError, match="MULTIPASS_AUDIENCE"):
        make_app(MULTIPASS_AUDIENCE="Not a slug!")
