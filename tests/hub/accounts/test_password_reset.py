"""Forgot password (a real SMTP server on loopback) and the admin's reset."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest
import sqlalchemy as sa

from tests.conftest import HUB_USER_PASSWORD, PLUGINS, free_port


class Inbox:
    """Messages an aiosmtpd server on loopback received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(message_from_bytes(envelope.content))
        self.arrived.set()
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, Inbox]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", inbox
    finally:
        controller.stop()


@pytest.fixture
def mail_app(hub_config, clock, smtp_server):  # type: ignore[no-untyped-def]
    from sso import create_app
    from sso.accounts.service import create_user
    from sso.base.db import db

    url, _inbox = smtp_server
    app = create_app({**hub_config, "SMTP_URL": url, "MAIL_FROM": "SSO <sso@example.org>"},
                     plugins=PLUGINS, clock=clock)
    with app.app_context():
        db.create_all()
        create_user("ann", "ann@example.com", "Ann Example", password=HUB_USER_PASSWORD)
        create_user("off", "off@example.com", password=HUB_USER_PASSWORD, active=False)
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _wait_for_mail(app) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.mail import mailer

    found = mailer(app)
    assert found is not None
    found.wait()


def test_forgot_password_mails_a_working_link(mail_app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _url, inbox = smtp_server
    client = mail_app.test_client()
    assert "Forgot your password?" in client.get("/login").get_data(as_text=True)
    response = client.post("/forgot-password", data={"email": "ANN@example.com"})
    assert response.status_code == 200 and "Check your mail" in response.get_data(as_text=True)
    _wait_for_mail(mail_app)
    assert inbox.arrived.is_set() and len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ann@example.com" and message["From"] == "SSO <sso@example.org>"
    link = re.search(r"http://localhost/set-password/\S+", message.get_payload(decode=True).decode())
    assert link, message.get_payload()
    path = link.group(0).removeprefix("http://localhost")
    assert client.post(path, data={"password": "a-new-password-1", "confirm": "a-new-password-1"}).status_code == 302
    assert client.post("/login", data={"login": "ann", "password": "a-new-password-1"}).status_code == 302
    # The link works once.
    assert client.get(path).status_code == 400


def test_same_answer_whether_or_not_the_address_exists(mail_app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _url, inbox = smtp_server
    answers = []
    for address in ("ann@example.com", "nobody@example.com", "off@example.com", "not an address"):
        client = mail_app.test_client()
        response = client.post("/forgot-password", data={"email": address})
        answers.append((response.status_code, response.get_data(as_text=True)))
    assert len(set(answers)) == 1
    _wait_for_mail(mail_app)
    assert [m["To"] for m in inbox.messages] == ["ann@example.com"]  # not the disabled account


def test_forgot_password_is_throttled(mail_app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    client = mail_app.test_client()
    statuses = [client.post("/forgot-password", data={"email": "ann@example.com"}).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    _wait_for_mail(mail_app)
    assert len(smtp_server[1].messages) == 5


def test_no_mail_set_up_says_ask_an_administrator(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/forgot-password", data={"email": "ann@example.com"})
    assert response.status_code == 200 and "Ask an administrator" in response.get_data(as_text=True)


def test_admin_reset_ends_the_old_password_at_once(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import find_user
    from sso.audit.models import AuditEvent
    from sso.base.db import db

    ann = app.test_client()
    assert ann.post("/login", data={"login": "ann", "password": HUB_USER_PASSWORD}).status_code == 302
    auth.login_admin()
    with app.app_context():
        ann_id = find_user("ann").id
    assert "the current one stops working now" in client.get(f"/admin/users/{ann_id}").get_data(as_text=True)
    page = client.post(f"/admin/users/{ann_id}/reset-password").get_data(as_text=True)
    assert "The old password no longer works" in page
    link = re.search(r'value="(http://localhost/set-password/[^"]+)"', page).group(1)  # type: ignore[union-attr]
    # The old password fails at once, and the session that used it has ended.
    assert ann.get("/").status_code == 302
    assert app.test_client().post("/login", data={"login": "ann", "password": HUB_USER_PASSWORD}).status_code == 401
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == "password_link")).one()
        assert event.actor == "admin" and "ended" in str(event.detail)
    # The admin-made link still works where no mail is set up.
    path = link.removeprefix("http://localhost")
    assert ann.post(path, data={"password": "a-new-password-1", "confirm": "a-new-password-1"}).status_code == 302
    assert ann.post("/login", data={"login": "ann", "password": "a-new-password-1"}).status_code == 302


def test_the_answer_does_not_wait_for_the_mail_server(mail_app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    """The page answers before the mail is delivered: a slow mail server cannot tell an
    existing address from an unknown one by the answer's timing."""
    _url, inbox = smtp_server
    release = threading.Event()
    original = inbox.handle_DATA

    async def slow(server, session, envelope):  # type: ignore[no-untyped-def]
        import asyncio

        # The test holds the mail server until it has its answer.
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        return await original(server, session, envelope)

    inbox.handle_DATA = slow  # type: ignore[method-assign]
    client = mail_app.test_client()
    response = client.post("/forgot-password", data={"email": "ann@example.com"})
    assert response.status_code == 200 and not inbox.messages  # answered, mail not delivered yet
    release.set()
    _wait_for_mail(mail_app)
    assert len(inbox.messages) == 1
