"""Demo data (with its deliberate trouble) and bulk users for the pairing benchmark."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from examples.invoicing.db import db
from examples.invoicing.demo import bulk_users
from examples.invoicing.models import Account, Invoice

from .conftest import SCIM_TOKEN, account_count


def accounts(app: Flask) -> dict[str, str]:
    with app.app_context():
        return {a.login: a.email for a in db.session.scalars(sa.select(Account))}


def test_seed_demo_cli_is_idempotent(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0 and "6 account(s) and 5 invoice(s) added" in result.output
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "0 account(s) and 0 invoice(s) added" in again.output
    assert accounts(app) == {
        "admin": "admin@example.com",
        "ann": "ann@example.com",
        "bob": "bob@old-mail.example",
        "caroline": "carol@example.com",
        "erin": "ERIN@Example.com",
        "frank": "frank@example.com",
    }
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 5


def test_seeded_erin_signs_in_despite_letter_case(app: Flask, token) -> None:  # type: ignore[no-untyped-def]
    app.test_cli_runner().invoke(args=["seed-demo"])
    assert app.test_client().get("/login?multipass=" + token(login="erin", email="erin@example.com")).status_code == 302


def test_bulk_users_cli_and_scim_see_them(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["bulk-users", "2500"])
    assert result.exit_code == 0 and "2500 user(s) added" in result.output
    assert bulk_users(app, 2600) == 100  # only the missing ones
    assert account_count(app) == 2600
    listing = app.test_client().get(
        "/scim/v2/Users?filter=userName eq \"user002600\"", headers={"Authorization": f"Bearer {SCIM_TOKEN}"}
    ).get_json()
    assert listing["totalResults"] == 1
    assert listing["Resources"][0]["emails"][0]["value"] == "user002600@example.com"


def test_bulk_users_cli_refuses_a_negative_count(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["bulk-users", "-5"])
    assert result.exit_code != 0


def test_hundred_thousand_users_and_the_last_scim_page(app: Flask) -> None:
    assert bulk_users(app, 100_000) == 100_000
    assert account_count(app) == 100_000
    last = app.test_client().get(
        "/scim/v2/Users?startIndex=99501&count=1000", headers={"Authorization": f"Bearer {SCIM_TOKEN}"}
    ).get_json(force=True)
    assert (last["totalResults"], last["startIndex"], last["itemsPerPage"]) == (100_000, 99_501, 500)
    assert [r["userName"] for r in last["Resources"]] == [f"user{n:06d}" for n in range(99_501, 100_001)]
