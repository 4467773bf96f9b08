"""The pairing page and the reference app must agree on who is the same person.

For one hub user and one app account, "the pairing page says paired" must equal "the
reference app signs this hub user in as that account". Both sides compare logins and
e-mails with :func:`sso.base.identity.normalize_key`; this test drives each side through
its own public code, so any copy or shortcut that drifts from the shared rule shows up.

What the inputs mean:

- Hub side: any text, but only what :func:`~sso.base.identity.clean_login` and
  :func:`~sso.base.identity.clean_email` accept, in the form they return it; the hub stores
  nothing else, so it never lists or sends anything else (``assume`` filters the rest).
- App side: any text at all, including empty values, control characters and strings that
  are no e-mail: an app's own database or directory may hold them. Agreement for such
  values is the same rule: the pairing page must not call them paired, and the app must not
  sign anyone in as that account.
- The hub user is active (the hub issues no token otherwise); the app account may not be.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from examples.invoicing.matching import AccountInactive, BadClaims, LoginRefused, decide, identity_from_claims
from examples.invoicing.models import Account
from sso.base.errors import ValidationError
from sso.base.identity import clean_email, clean_login, normalize_key, normalize_keys
from user_pairing.matching import DirectoryUser, Status, match_users

# Characters that case folding and Unicode normalisation treat specially.
TRICKY = (
    "\u00df", "\u1e9e", "SS", "ss", "s\u0301", "\u015b", "\u0301", "\u0307", "\u0130", "\u0131", "I", "i",
    "\u00e9", "e\u0301", "\u212a", "k", "\u03a3", "\u03c2", "\u03c3", "\ufb01", "fi", "\uff21", "\uff41", "A",
    "\u0345", "\u1fb3", "\u00c5", "\u212b", "\u0149", "\u1e9b\u0323", "\u00df\u0301", "\u0130\u0301",
)
# What may surround a value, or be wrongly taken for white space.
PADDING = ("", " ", "\t", "\n", "\u00a0", "\u3000", "\u2007", "\u202f", "\x1c", "\x85", "\u200b", "\ufeff")

EDITS: dict[str, Callable[[str], str]] = {
    "same": lambda s: s,
    "upper": str.upper,
    "lower": str.lower,
    "casefold": str.casefold,
    "casefold, NFC": lambda s: unicodedata.normalize("NFC", s.casefold()),
    "swapcase": str.swapcase,
    "title": str.title,
    "NFD": lambda s: unicodedata.normalize("NFD", s),
    "NFKC": lambda s: unicodedata.normalize("NFKC", s),
    "sharp s to ss": lambda s: s.replace("\u00df", "ss").replace("\u1e9e", "SS"),
    "ss to sharp s": lambda s: s.replace("ss", "\u00df"),
    "dotless i": lambda s: s.replace("i", "\u0131").replace("I", "\u0130"),
}

# Characters a login or e-mail may hold at the hub; full Unicode otherwise (fewer inputs thrown away).
usable = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Zs", "Zl", "Zp"), exclude_characters="@")
pieces = st.one_of(st.sampled_from(TRICKY), st.text(usable, max_size=3), st.text(max_size=2))
texts = st.one_of(
    st.text(max_size=16),
    st.text(usable, min_size=1, max_size=16),
    st.lists(pieces, min_size=1, max_size=6).map("".join),
)
parts = st.one_of(st.text(usable, min_size=1, max_size=10), st.lists(pieces, min_size=1, max_size=4).map("".join))
raw_emails = st.tuples(st.one_of(parts, st.text(max_size=12)), parts, parts).map(lambda p: f"{p[0]}@{p[1]}.{p[2]}")


@dataclass(frozen=True)
class Case:
    """One hub user and one app account."""

    hub_login: str
    hub_email: str
    app_login: str
    app_email: str
    app_active: bool = True


def _cleaned(clean: Callable[[object], str], value: str) -> str | None:
    try:
        return clean(value)
    except ValidationError:
        return None


@st.composite
def app_value(draw: st.DrawFn, hub_value: str) -> str:
    """Unrelated text, or the hub's value after a few edits a directory might make."""
    if draw(st.booleans()):
        return draw(texts)
    value = hub_value
    for name in draw(st.lists(st.sampled_from(sorted(EDITS)), max_size=3)):
        value = EDITS[name](value)
    if draw(st.booleans()):
        at = draw(st.integers(0, len(value)))
        value = value[:at] + draw(st.one_of(st.sampled_from(TRICKY), st.characters())) + value[at:]
    return draw(st.sampled_from(PADDING)) + value + draw(st.sampled_from(PADDING))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    hub_login = _cleaned(clean_login, draw(texts))
    hub_email = _cleaned(clean_email, draw(raw_emails))
    assume(hub_login is not None and hub_email is not None)
    assert hub_login is not None and hub_email is not None
    return Case(hub_login, hub_email, draw(app_value(hub_login)), draw(app_value(hub_email)), draw(st.booleans()))


def pairing_statuses(case: Case) -> list[Status]:
    """What the pairing page shows for the hub user and the app account."""
    hub = DirectoryUser(case.hub_login, case.hub_email)
    app = DirectoryUser(case.app_login, case.app_email, active=case.app_active)
    return [row.status for row in match_users([hub], [app])]


def app_outcome(case: Case) -> str:
    """What the reference app does with the hub's token: ``signed in``, ``inactive``,
    ``created`` (a new account, not this one) or ``refused``."""
    claims = {"login": case.hub_login, "email": case.hub_email, "identifier": "1", "jti": "j"}
    try:
        identity = identity_from_claims(claims)
    except BadClaims:
        return "bad claims"
    account = Account.new(case.app_login, case.app_email, active=case.app_active)
    # The keys the app would store for this identity are the keys it looks accounts up by
    # (accounts.find_by_login / find_by_email): unique columns compared for equality.
    wanted = Account.new(identity.login, identity.email)
    by_login = account if account.login_key == wanted.login_key else None
    by_email = account if account.email_key == wanted.email_key else None
    try:
        decision = decide(identity, by_login, by_email)
    except AccountInactive:
        return "inactive"
    except LoginRefused:
        return "refused"
    if decision.create:
        return "created"
    assert decision.account is account
    return "signed in"


def check_agreement(case: Case) -> None:
    # Hub values exactly as the hub stores them (explicit examples included).
    assert (clean_login(case.hub_login), clean_email(case.hub_email)) == (case.hub_login, case.hub_email)
    statuses = pairing_statuses(case)
    outcome = app_outcome(case)
    paired = statuses == [Status.PAIRED]
    assert outcome != "bad claims", "the app refuses a login or e-mail the hub stores"
    assert paired == (outcome in {"signed in", "inactive"}), (statuses, outcome)
    assert (outcome == "signed in") == (paired and case.app_active), (statuses, outcome)
    assert (outcome == "created") == (sorted(statuses) == [Status.MISSING_IN_APP, Status.MISSING_IN_HUB]), (
        statuses,
        outcome,
    )


MAIL = "strasse@example.com"


@settings(max_examples=400, deadline=None)
@given(cases())
# ß followed by a combining acute: folding gives "ss" + U+0301, which NFC composes to "sś".
@example(Case("stra\u00df\u0301e", MAIL, "stras\u015be", MAIL))
@example(Case("stras\u015be", MAIL, "stra\u00df\u0301e", MAIL))
@example(Case("stra\u00dfe", "stra\u00dfe@example.com", "STRASSE", "STRASSE@EXAMPLE.COM"))
@example(Case("STRA\u1e9eE", MAIL, "strasse", MAIL))
@example(Case("\u0130stanbul", "ist@example.com", "i\u0307stanbul", "IST@example.com"))
@example(Case("\u0131stanbul", "ist@example.com", "Istanbul", "ist@example.com"))
@example(Case("jos\u00e9", "jos\u00e9@example.com", "JOSE\u0301", "Jose\u0301@Example.com"))
@example(Case("ann", "ann@example.com", "\tann\u00a0", "\u3000ANN@example.com\u202f"))
@example(Case("ann", "ann@example.com", "\x1cann\x85", "ann@example.com"))
@example(Case("ann", "ann@example.com", "\u200bann", "ann@example.com"))
@example(Case("\uff41\uff4e\uff4e", "ann@example.com", "ann", "ann@example.com"))
@example(Case("ann", "ann@example.com", "", "not an e-mail"))
@example(Case("ann", "ann@example.com", "ann", "ann@example.com", app_active=False))
def test_pairing_page_and_sign_in_agree(case: Case) -> None:
    check_agreement(case)


# -- the shared key itself --------------------------------------------------------------------

ascii_text = st.text(alphabet=st.characters(max_codepoint=0x7F))
any_text = st.one_of(
    st.text(), st.lists(st.one_of(st.sampled_from(TRICKY + PADDING), st.text(max_size=3))).map("".join)
)


def spec(value: str) -> str:
    """The documented rule, without the ASCII shortcut: strip, NFC, case fold, NFC."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value.strip()).casefold())


@given(st.one_of(ascii_text, any_text))
@example("\x1c\x1d\x1e\x1f ann \t\n\x0b\x0c\r")
@example("stra\u00df\u0301e")
def test_key_follows_the_documented_rule(value: str) -> None:
    assert normalize_key(value) == spec(value)


@given(st.one_of(ascii_text, any_text))
def test_key_is_idempotent(value: str) -> None:
    assert normalize_key(normalize_key(value)) == normalize_key(value)


@given(st.lists(st.one_of(st.none(), ascii_text, any_text)))
def test_list_helper_equals_the_key(values: list[str | None]) -> None:
    assert normalize_keys(values) == [normalize_key(v) for v in values]
    assert normalize_key(None) == normalize_key("") == ""
