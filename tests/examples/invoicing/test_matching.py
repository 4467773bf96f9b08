"""Pairing rules for a token's identity, without app or database."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from examples.invoicing.matching import (
    AccountInactive,
    BadClaims,
    Identity,
    NotPaired,
    decide,
    identity_from_claims,
)
from examples.invoicing.models import Account
from sso.base.identity import normalize_key


@dataclass
class Acc:
    login: str
    email: str
    active: bool = True


ANN = Identity(login="ann", email="ann@example.com", name="Ann")


@pytest.mark.parametrize(
    ("login", "email"),
    [
        ("  ERIN ", "ERIN@Example.COM "),
        ("Stra\u00dfe", "STRA\u1e9eE@example.com"),
        ("Zo\u0065\u0301", "zo\u00e9@example.com"),
        ("stra\u00df\u0301e", "\u00a0x@example.com\t"),
    ],
)
def test_accounts_are_keyed_with_the_hubs_rule(login: str, email: str) -> None:
    account = Account.new(login, email)
    assert (account.login_key, account.email_key) == (normalize_key(login), normalize_key(email))


def test_keys_trim_compose_and_casefold() -> None:
    assert Account.new("  Erin ", "  ERIN@Example.COM ").email_key == "erin@example.com"
    assert Account.new("Stra\u00dfe", "a@example.com").login_key == Account.new("STRASSE", "a@example.com").login_key
    assert Account.new("stra\u00df\u0301e", "a@b.c").login_key == Account.new("stras\u015be", "a@b.c").login_key


def test_logins_equal_under_the_hubs_rule_are_one_account() -> None:
    identity = Identity(login="stras\u015be", email="s@example.com", name="S")
    acc = Acc("stra\u00df\u0301e", "S@example.com")
    decision = decide(identity, acc, Acc("STRAS\u015aE", "s@example.com"))
    assert decision.create is False and decision.account is acc


def test_unknown_user_is_created() -> None:
    assert decide(ANN, None, None).create is True


def test_same_account_by_login_and_email_signs_in() -> None:
    acc = Acc("Ann", "ANN@example.com")
    decision = decide(ANN, acc, Acc("ann", "ann@example.com"))
    assert decision.create is False and decision.account is acc


def test_login_known_with_other_email_names_both_emails() -> None:
    with pytest.raises(NotPaired) as err:
        decide(ANN, Acc("ann", "a@old.example"), None)
    assert "login ann is registered here with e-mail a@old.example, the hub sent ann@example.com" in err.value.detail
    assert "same in both systems" in err.value.detail


def test_email_known_under_other_login_names_both_logins() -> None:
    carol = Identity(login="carol", email="carol@example.com", name="Carol")
    with pytest.raises(NotPaired) as err:
        decide(carol, None, Acc("caroline", "carol@example.com"))
    assert "registered here under login caroline, the hub sent login carol" in err.value.detail


def test_login_and_email_on_two_accounts_is_refused() -> None:
    with pytest.raises(NotPaired) as err:
        decide(ANN, Acc("ann", "x@example.com"), Acc("annie", "ann@example.com"))
    assert "login annie" in err.value.detail and "x@example.com" in err.value.detail


def test_the_end_user_reads_plain_words_and_whom_to_ask() -> None:
    with pytest.raises(NotPaired) as err:
        decide(ANN, Acc("ann", "a@old.example"), None)
    assert err.value.message == "Your account in Invoices does not match your hub account."
    assert err.value.fix == "Ask your administrator to pair them."
    assert "a@old.example" not in err.value.message + err.value.fix  # record details are for the admin


def test_inactive_account_is_refused() -> None:
    with pytest.raises(AccountInactive):
        decide(ANN, Acc("ann", "ann@example.com", active=False), Acc("ann", "ann@example.com", active=False))


def test_identity_reads_name_then_first_last_then_login() -> None:
    assert identity_from_claims({"login": " ann ", "email": "ann@example.com", "name": "Ann A"}) == Identity(
        "ann", "ann@example.com", "Ann A"
    )
    got = identity_from_claims({"login": "ann", "email": "ann@example.com", "first_name": "Ann", "last_name": "B"})
    assert got.name == "Ann B"
    assert identity_from_claims({"login": "ann", "email": "ann@example.com"}).name == "ann"


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "ann@example.com"},
        {"login": "", "email": "ann@example.com"},
        {"login": 7, "email": "ann@example.com"},
        {"login": "an\nn", "email": "ann@example.com"},
        {"login": "ann"},
        {"login": "ann", "email": "not-an-email"},
        {"login": "ann", "email": "a nn@example.com"},
        {"login": "x" * 151, "email": "ann@example.com"},
    ],
)
def test_unusable_claims_are_refused(claims: dict[str, object]) -> None:
    with pytest.raises(BadClaims):
        identity_from_claims(claims)
