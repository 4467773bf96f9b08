"""Outgoing mail through SMTP (``SSO_SMTP_URL``), sent off the request path.

``smtp://host:port`` (plain, STARTTLS when the server offers it and ``?starttls=required``
insists), ``smtps://host:port`` (TLS from the start); a user and password in the URL log in.
Messages go through one background worker per app, so a page that sends mail answers in the
same time as one that does not (the forgot-password page must not tell whether an address
exists). A failure is logged with the recipient's domain only, never the link.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from concurrent.futures import Future, ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask, current_app

from sso.base import context
from sso.base.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["Mailer", "check_smtp_url", "mailer"]


def check_smtp_url(value: str, variable: str = "SSO_SMTP_URL") -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ConfigError(f"{variable} must look like smtp://host:port or smtps://user:password@host:port")
    return value


class Mailer:
    """Sends messages through one SMTP URL on a single worker thread."""

    def __init__(self, url: str, sender: str, timeout: float = 10.0) -> None:
        self._url = url
        self._sender = sender
        self._timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sso-mail")
        self.pending: list[Future[None]] = []

    def send(self, to: str, subject: str, body: str) -> Future[None]:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=(urlsplit(self._url).hostname or "localhost"))
        message.set_content(body)
        future = self._pool.submit(self._deliver, message)
        self.pending = [f for f in self.pending if not f.done()] + [future]
        return future

    def _deliver(self, message: EmailMessage) -> None:
        parts = urlsplit(self._url)
        host, port = parts.hostname or "localhost", parts.port
        query = parse_qs(parts.query)
        try:
            if parts.scheme == "smtps":
                client: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=self._timeout,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(host, port or 25, timeout=self._timeout)
            with client:
                if parts.scheme == "smtp":
                    client.ehlo()
                    if client.has_extn("starttls"):
                        client.starttls(context=ssl.create_default_context())
                        client.ehlo()
                    elif query.get("starttls") == ["required"]:
                        raise smtplib.SMTPException("the server does not offer STARTTLS")
                if parts.username:
                    client.login(unquote(parts.username), unquote(parts.password or ""))
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as err:
            domain = str(message["To"]).rpartition("@")[2]
            log.error("mail to a recipient at %s failed: %s", domain, type(err).__name__)

    def wait(self, timeout: float = 10.0) -> None:
        """Wait until every message handed over so far is sent or has failed (tests, shutdown)."""
        for future in list(self.pending):
            future.result(timeout=timeout)


def mailer(app: Flask | None = None) -> Mailer | None:
    """The app's mailer, or None when ``SSO_SMTP_URL`` is not set."""
    target = app or current_app
    url = target.config["SMTP_URL"]
    if not url:
        return None
    features = context.hub_state(target).features
    found: Mailer | None = features.get("accounts.mailer")
    if found is None:
        found = features.setdefault("accounts.mailer", Mailer(url, target.config["MAIL_FROM"]))
    return found
