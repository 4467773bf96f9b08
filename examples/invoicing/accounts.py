"""Find or create the local account for a Multipass identity (the database side of matching)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from sso.base.identity import normalize_key

from .db import db
from .matching import Identity, LoginRefused, decide
from .models import Account


def find_by_login(login: str) -> Account | None:
    """The account whose login equals ``login`` once both are normalised."""
    return db.session.scalar(sa.select(Account).where(Account.login_key == normalize_key(login)))


def find_by_email(email: str) -> Account | None:
    """The account whose e-mail equals ``email`` once both are normalised."""
    return db.session.scalar(sa.select(Account).where(Account.email_key == normalize_key(email)))


def account_for(identity: Identity) -> Account:
    """Return the account ``identity`` may sign in as, creating it the first time.

    Raises :class:`~.matching.LoginRefused` (not paired, deactivated). Two first logins
    at once: the unique keys stop the second insert, and the rules run again.
    """
    for _attempt in range(2):
        decision = decide(identity, find_by_login(identity.login), find_by_email(identity.email))
        if not decision.create:
            assert isinstance(decision.account, Account)  # decide() returns the account it was given
            return decision.account
        account = Account.new(identity.login, identity.email, identity.name)
        db.session.add(account)
        try:
            db.session.commit()
            return account
        except IntegrityError:
            db.session.rollback()
    raise LoginRefused(
        "Invoices could not set up your account just now.", "Open Invoices again from the hub's start page.",
        "Two first sign-ins of this user at once: the account was not created twice.",
    )
