"""Demo data with realistic trouble, and synthetic users for the pairing benchmark.

The hub's demo users are admin, ann, bob, carol, dave and erin, all ``@example.com``.
Here, on purpose: bob has an old e-mail, carol is called ``caroline``, erin's e-mail
differs only in letter case (still paired), dave is missing and frank exists only here.
"""

from __future__ import annotations

import time

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from sso.base.identity import normalize_key

from .db import db
from .models import Account, Invoice

DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("admin", "admin@example.com", "Ada Admin"),  # paired
    ("ann", "ann@example.com", "Ann Archer"),  # paired
    ("bob", "bob@old-mail.example", "Bob Baker"),  # hub has bob@example.com: e-mail mismatch
    ("caroline", "carol@example.com", "Carol Cooper"),  # hub has login carol: login mismatch
    ("erin", "ERIN@Example.com", "Erin Evans"),  # only letter case differs: paired
    ("frank", "frank@example.com", "Frank Fischer"),  # missing in the hub
)

DEMO_INVOICES: tuple[tuple[str, str, int, str], ...] = (
    ("FV/2025/0001", "Acme Ltd", 123_450, "admin"),
    ("FV/2025/0002", "Globex Corporation", 89_900, "ann"),
    ("FV/2025/0003", "Initech", 45_000, "ann"),
    ("FV/2025/0004", "Umbrella Services", 310_075, "frank"),
    ("FV/2025/0005", "Stark Industries", 1_250_000, "erin"),
)

BULK_CHUNK = 10_000


def init_app(app: Flask) -> None:
    """Add ``seed-demo`` and ``bulk-users`` to the ``flask`` command line."""
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(bulk_users_command)


def seed_demo(app: Flask) -> tuple[int, int]:
    """Create the demo accounts and invoices that are not there yet; return how many of each."""
    added_accounts = added_invoices = 0
    with app.app_context():
        for login, email, name in DEMO_ACCOUNTS:
            taken = db.session.scalar(
                sa.select(Account.id).where(
                    (Account.login_key == normalize_key(login)) | (Account.email_key == normalize_key(email))
                )
            )
            if taken is None:
                db.session.add(Account.new(login, email, name))
                added_accounts += 1
        db.session.flush()
        for number, client, cents, login in DEMO_INVOICES:
            if db.session.scalar(sa.select(Invoice.id).where(Invoice.number == number)) is None:
                issuer = db.session.scalar(sa.select(Account).where(Account.login_key == normalize_key(login)))
                db.session.add(Invoice(number=number, client=client, amount_cents=cents, issued_by=issuer))
                added_invoices += 1
        db.session.commit()
    return added_accounts, added_invoices


def bulk_users(app: Flask, count: int) -> int:
    """Insert users ``user000001``..``userNNNNNN`` (``@example.com``) that are missing; return how many.

    Bulk inserts in chunks, so 100,000 users take seconds.
    """
    if count < 0 or count > 9_999_999:
        raise ValueError("count must be between 0 and 9,999,999")
    width = max(6, len(str(count)))
    inserted = 0
    with app.app_context():
        existing = set(
            db.session.scalars(sa.select(Account.login_key).where(Account.login_key.like("user%")))
        )
        rows: list[dict[str, object]] = []
        for n in range(1, count + 1):
            login = f"user{n:0{width}d}"
            if login in existing:
                continue
            email = f"{login}@example.com"
            rows.append(
                {"login": login, "login_key": login, "email": email, "email_key": email,
                 "name": f"User {n}", "active": True}
            )
            if len(rows) >= BULK_CHUNK:
                db.session.execute(sa.insert(Account), rows)
                inserted += len(rows)
                rows = []
        if rows:
            db.session.execute(sa.insert(Account), rows)
            inserted += len(rows)
        db.session.commit()
    return inserted


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Create the demo accounts and sample invoices (idempotent)."""
    accounts, invoices = seed_demo(current_app)
    click.echo(f"Demo data: {accounts} account(s) and {invoices} invoice(s) added.")


@click.command("bulk-users")
@with_appcontext
@click.argument("count", type=click.IntRange(0, 9_999_999))
def bulk_users_command(count: int) -> None:
    """Create COUNT synthetic users user000001.. for the pairing benchmark."""
    started = time.perf_counter()
    inserted = bulk_users(current_app, count)
    click.echo(f"{inserted} user(s) added in {time.perf_counter() - started:.1f} s.")
