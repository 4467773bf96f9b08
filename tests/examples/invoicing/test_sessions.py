"""How the app's sessions end, and the question before a sign-in switches accounts.

Sessions: the cookie holds "<id>.<nonce>"; logout, the hub's front-channel logout and
deactivation change the nonce, so a *copy* of the cookie (another tab, a stolen cookie)
stops working too, not just the browser that signed out.

Switching: a valid token for bob arriving while ann is signed in (login CSRF) must not
silently replace ann's session; the user is asked, and only a CSRF-checked POST switches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from examples.invoicing.auth import PENDING_MAX_AGE
from examples.invoicing.db import db
from examples.invoicing.models import Account, PendingSignIn

from .conftest import csrf_token, signed_in_login

Token = Callable[..., str]
COOKIE = "invoicing_session"


def copy_of_session(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding exactly the same session cookie."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def set_active(app: Flask, login: str, active: bool | None) -> None:
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.login == login))
        assert account is not None
        account.active = active
        db.session.commit()


# -- server-side revocation -----------------------------------------------------------


def test_the_copy_works_while_the_session_lasts(app: Flask, client: FlaskClient, token: Token) -> None:
    client.get("/login?multipass=" + token())
    assert signed_in_login(copy_of_session(app, client)) == "ann"
    with client.session_transaction() as session:
        account_id, _, nonce = session["_user_id"].partition(".")
        assert account_id.isdigit() and len(nonce) == 32


def test_logout_ends_every_copy_of_the_cookie(app: Flask, client: FlaskClient, token: Token) -> None:
    client.get("/login?multipass=" + token())
    thief = copy_of_session(app, client)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert signed_in_login(client) is None
    assert signed_in_login(thief) is None


def test_frontchannel_logout_ends_every_copy_of_the_cookie(app: Flask, client: FlaskClient, token: Token) -> None:
    client.get("/login?multipass=" + token())
    thief = copy_of_session(app, client)
    assert client.get("/logout/frontchannel").status_code == 200
    assert signed_in_login(thief) is None


def test_deactivation_ends_every_copy_even_after_reactivation(
    app: Flask, client: FlaskClient, token: Token
) -> None:
    client.get("/login?multipass=" + token())
    thief = copy_of_session(app, client)
    set_active(app, "ann", False)
    assert signed_in_login(thief) is None
    set_active(app, "ann", True)  # reactivated: an old cookie must not come back to life
    assert signed_in_login(thief) is None
    assert signed_in_login(client) is None
    fresh = app.test_client()
    assert fresh.get("/login?multipass=" + token()).status_code == 302
    assert signed_in_login(fresh) == "ann"


def test_a_new_sign_in_does_not_end_other_sessions(app: Flask, token: Token) -> None:
    first, second = app.test_client(), app.test_client()
    first.get("/login?multipass=" + token())
    second.get("/login?multipass=" + token())
    assert signed_in_login(first) == "ann" and signed_in_login(second) == "ann"


def test_old_style_cookie_without_nonce_is_refused(app: Flask, client: FlaskClient, token: Token) -> None:
    client.get("/login?multipass=" + token())
    with client.session_transaction() as session:
        session["_user_id"] = session["_user_id"].partition(".")[0]
    assert signed_in_login(client) is None


# -- asking before switching accounts -------------------------------------------------


def ask_to_switch(client: FlaskClient, token: Token, **claims: object) -> str:
    client.get("/login?multipass=" + token())
    bob_token = token(login="bob", email="bob@example.com", name="Bob Baker", **claims)
    response = client.get("/login?multipass=" + bob_token)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "no-store" in response.headers["Cache-Control"]
    assert signed_in_login(client) == "ann"  # nothing changed yet
    return page


def form_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_token_for_another_user_asks_first(app: Flask, client: FlaskClient, token: Token) -> None:
    page = ask_to_switch(client, token)
    text = re.sub(r"<[^>]+>", "", page)
    assert "You are signed in as ann" in text and "Continue as bob (Bob Baker)?" in text
    assert 'action="/login/switch"' in page and 'action="/login/switch/cancel"' in page


def test_confirming_switches_and_goes_to_return_to(app: Flask, client: FlaskClient, token: Token) -> None:
    page = ask_to_switch(client, token, return_to="/invoices/new")
    response = client.post("/login/switch", data={"csrf_token": form_token(page)})
    assert response.status_code == 302 and response.location == "/invoices/new"
    assert signed_in_login(client) == "bob"
    # The answer is single use.
    again = client.post("/login/switch", data={"csrf_token": csrf_token(client)})
    assert again.status_code == 400 and "expired or was already answered" in again.get_data(as_text=True)
    assert signed_in_login(client) == "bob"


def test_switch_needs_csrf(client: FlaskClient, token: Token) -> None:
    ask_to_switch(client, token)
    refused = client.post("/login/switch")
    assert refused.status_code == 400 and "Form expired" in refused.get_data(as_text=True)
    assert signed_in_login(client) == "ann"


def test_cancel_keeps_the_current_user_and_forgets_the_question(
    app: Flask, client: FlaskClient, token: Token
) -> None:
    page = ask_to_switch(client, token)
    response = client.post("/login/switch/cancel", data={"csrf_token": form_token(page)})
    assert response.status_code == 302 and signed_in_login(client) == "ann"
    assert client.post("/login/switch", data={"csrf_token": form_token(page)}).status_code == 400
    assert signed_in_login(client) == "ann"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PendingSignIn)) == 0


def test_the_question_expires(app: Flask, client: FlaskClient, token: Token) -> None:
    page = ask_to_switch(client, token)
    with app.app_context():
        row = db.session.scalar(sa.select(PendingSignIn))
        assert row is not None
        row.created_at = datetime.now(UTC) - timedelta(seconds=PENDING_MAX_AGE + 1)
        db.session.commit()
    assert client.post("/login/switch", data={"csrf_token": form_token(page)}).status_code == 400
    assert signed_in_login(client) == "ann"


def test_the_question_belongs_to_the_browser_that_was_asked(app: Flask, client: FlaskClient, token: Token) -> None:
    ask_to_switch(client, token)
    other = app.test_client()
    other.get("/login?multipass=" + token(login="carol", email="carol@example.com"))
    response = other.post("/login/switch", data={"csrf_token": csrf_token(other)})
    assert response.status_code == 400 and signed_in_login(other) == "carol"


def test_the_token_is_used_up_and_not_stored(app: Flask, client: FlaskClient, token: Token) -> None:
    client.get("/login?multipass=" + token())
    bob_token = token(login="bob", email="bob@example.com")
    assert client.get("/login?multipass=" + bob_token).status_code == 200
    assert app.test_client().get("/login?multipass=" + bob_token).status_code == 400  # replay refused
    with app.app_context():
        stored = db.session.scalars(sa.select(PendingSignIn.claims)).all()
    assert len(stored) == 1 and bob_token not in stored[0] and '"bob"' in stored[0]


def test_refused_switch_target_shows_why(app: Flask, client: FlaskClient, token: Token) -> None:
    page = ask_to_switch(client, token)
    set_active(app, "ann", True)
    with app.app_context():
        db.session.add(Account.new("bob", "bob@old-mail.example", "Bob"))
        db.session.commit()
    response = client.post("/login/switch", data={"csrf_token": form_token(page)})
    assert response.status_code == 403 and "not paired" in response.get_data(as_text=True)
