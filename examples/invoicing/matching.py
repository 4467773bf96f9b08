"""Which local account does a Multipass token stand for? Pure rules, no Flask, no database.

The hub and this app share users when both hold an account with the *same login and the
same e-mail*, compared with the hub's own rule, :func:`sso.base.identity.normalize_key`
(the pairing page uses it too, so "paired" there means "may sign in" here). The rules, in
the order they apply:

- no account has that login and none has that e-mail: create one from the token;
- one account has both: sign it in (unless it is deactivated);
- anything else (the login is here with another e-mail, the e-mail is here under another
  login, or they belong to two accounts): refuse, and say exactly what differs.

Never match on the login alone: whoever creates ``admin`` at the hub would become admin
here (linking accounts on one field alone is how account takeovers happen).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sso.base.identity import normalize_key

MAX_LOGIN = 150
MAX_EMAIL = 254
MAX_NAME = 200


class LoginRefused(Exception):
    """The token is authentic but nobody may sign in with it. ``str(err)`` is shown to the user."""

    status = 403

    def __init__(self, message: str, fix: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        #: What an administrator needs to fix it (which records differ); shown apart from the
        #: end user's words.
        self.detail = detail


class BadClaims(LoginRefused):
    """The token lacks a usable login or e-mail."""

    status = 400


class NotPaired(LoginRefused):
    """The hub's login and e-mail do not match one account here.

    The end user reads :data:`NOT_PAIRED` and whom to ask; ``detail`` names the records
    that differ, for the administrator who pairs them.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(NOT_PAIRED, NOT_PAIRED_FIX, detail)


NOT_PAIRED = "Your account in Invoices does not match your hub account."
NOT_PAIRED_FIX = "Ask your administrator to pair them."
ADMIN_FIX = (
    "Make the login and the e-mail the same in both systems (in the hub or in Invoicing). "
    "Every unpaired account is listed on the hub's pairing page."
)


class AccountInactive(LoginRefused):
    """The matching account is deactivated here."""


class AccountLike(Protocol):
    """What the rules need to know of a stored account."""

    login: str
    email: str | None
    active: bool | None  # None: never set, counts as active


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the hub says the user is."""

    login: str
    email: str
    name: str


@dataclass(frozen=True, slots=True)
class Decision:
    """``create`` a new account from ``identity``, or sign ``account`` in."""

    create: bool
    account: AccountLike | None = None


def _clean(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    value = unicodedata.normalize("NFC", value.strip())
    if not value or len(value) > limit or any(unicodedata.category(ch) == "Cc" for ch in value):
        return None
    return value


def identity_from_claims(claims: Mapping[str, Any]) -> Identity:
    """Read login, e-mail and display name from Multipass claims; :class:`BadClaims` if unusable.

    ``name`` falls back to ``first_name last_name``, then to the login.
    """
    login = _clean(claims.get("login"), MAX_LOGIN)
    if login is None:
        raise BadClaims("The sign-in link does not say which login to use.", "Ask the hub administrator.")
    email = _clean(claims.get("email"), MAX_EMAIL)
    if email is None or "@" not in email.strip("@") or any(ch.isspace() for ch in email):
        raise BadClaims("The sign-in link does not carry a valid e-mail address.", "Ask the hub administrator.")
    name = _clean(claims.get("name"), MAX_NAME)
    if name is None:
        parts = [_clean(claims.get(k), MAX_NAME) for k in ("first_name", "last_name")]
        name = " ".join(p for p in parts if p) or login
    return Identity(login=login, email=email, name=name[:MAX_NAME])


def decide(identity: Identity, by_login: AccountLike | None, by_email: AccountLike | None) -> Decision:
    """Apply the pairing rules to the accounts found by normalised login and by e-mail.

    Raises :class:`NotPaired` or :class:`AccountInactive` when the user may not sign in.
    """
    if by_login is None and by_email is None:
        return Decision(create=True)
    if by_login is not None and by_email is not None and _same(by_login, by_email):
        if by_login.active is False:
            raise AccountInactive(
                f"The account {by_login.login} is deactivated in Invoicing.",
                "Ask an Invoicing administrator to reactivate it.",
            )
        return Decision(create=False, account=by_login)
    if by_email is None:
        assert by_login is not None
        raise NotPaired(
            f"The accounts are not paired: login {by_login.login} is registered here with "
            f"{_email_words(by_login)}, the hub sent {identity.email}. {ADMIN_FIX}",
        )
    if by_login is None:
        raise NotPaired(
            f"The accounts are not paired: e-mail {by_email.email} is registered here under login "
            f"{by_email.login}, the hub sent login {identity.login}. {ADMIN_FIX}",
        )
    raise NotPaired(
        f"The accounts are not paired: login {by_login.login} is registered here with "
        f"{_email_words(by_login)}, and e-mail {by_email.email} belongs to another account here, "
        f"login {by_email.login}. {ADMIN_FIX}",
    )


def _email_words(account: AccountLike) -> str:
    return f"e-mail {account.email}" if account.email else "no e-mail"


def _same(a: AccountLike, b: AccountLike) -> bool:
    """Logins are unique (normalised), so equal logins mean one account."""
    return normalize_key(a.login) == normalize_key(b.login)
