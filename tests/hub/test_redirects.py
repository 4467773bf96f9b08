"""The one redirect check: every hostile form seen in real implementations, and the safe ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sso.base.errors import ValidationError
from sso.base.redirects import check_login_url, normalize_origin, origin_of, safe_return_to

ALLOWED = ["https://app.example", "http://127.0.0.1:5001"]

HOSTILE = [
    "//evil.example",
    "//evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https:\\evil.example",
    "https:\\\\evil.example",
    "https:/\\evil.example",
    "/%09/evil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "/%252F/evil.example",
    "/%25252F/evil.example",
    "/%20/evil.example",
    "/%E3%80%80/evil.example",
    "/\t/evil.example",
    "/\r\nSet-Cookie: x=1",
    "/ok\r\nLocation: https://evil.example",
    "/ok%0d%0aLocation:%20https://evil.example",
    "https://user@evil.example",
    "https://app.example@evil.example",
    "https://app.example:443@evil.example/",
    "user@evil.example",
    "////evil.example",
    "///evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://evil.example",
    "https://app.example.evil.example/",
    "https://evil.example/https://app.example",
    "http://app.example",  # wrong scheme for this origin
    "https://app.example:8443/",  # wrong port
    "https:evil.example",
    "https:/evil.example",
    "evil.example",
    "ftp://app.example/",
    " /leading-space",
    "/\u2028evil",
    "/\u00a0//evil.example",
    "\x00/",
    "",
    "/" + "a" * 3000,
]

SAFE_RELATIVE = [
    "/", "/invoices", "/invoices?page=2&sort=due", "/a/b#frag", "/search?q=%2Fx", "/search?q=a%20b+c",
    "/x?path=%5Cshare", "/caf%C3%A9",
]
SAFE_ABSOLUTE = [
    "https://app.example/",
    "https://app.example",
    "https://APP.example/Invoices?x=1",
    "https://app.example:443/x",
    "http://127.0.0.1:5001/invoices",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_return_to_is_dropped(value: str) -> None:
    assert safe_return_to(value, ALLOWED) is None


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_login_url_is_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        check_login_url(value, ALLOWED)


@pytest.mark.parametrize("value", SAFE_RELATIVE + SAFE_ABSOLUTE)
def test_safe_return_to_is_kept_unchanged(value: str) -> None:
    assert safe_return_to(value, ALLOWED) == value


def test_absolute_url_needs_an_allowed_origin() -> None:
    assert safe_return_to("https://app.example/x", []) is None
    assert safe_return_to("https://app.example/x", ["https://other.example"]) is None


@pytest.mark.parametrize("value", SAFE_ABSOLUTE)
def test_login_url_on_allowed_origin(value: str) -> None:
    assert check_login_url(value, ALLOWED) == value


@pytest.mark.parametrize("value", SAFE_RELATIVE)
def test_login_url_must_be_absolute(value: str) -> None:
    with pytest.raises(ValidationError):
        check_login_url(value, ALLOWED)


@pytest.mark.parametrize("value", [None, 42, b"/x", ["/x"]])
def test_non_strings_are_refused(value: object) -> None:
    assert safe_return_to(value, ALLOWED) is None
    with pytest.raises(ValidationError):
        check_login_url(value, ALLOWED)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://App.Example/x", "https://app.example"),
        ("https://app.example:443/", "https://app.example"),
        ("http://app.example:80", "http://app.example"),
        ("http://127.0.0.1:5001/a", "http://127.0.0.1:5001"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
        ("https://app.example:99999/", None),
        ("https://a@app.example/", None),
        ("mailto:x@app.example", None),
        ("/relative", None),
    ],
)
def test_origin_of(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def test_normalize_origin_rejects_paths() -> None:
    assert normalize_origin(" https://App.example/ ") == "https://app.example"
    for bad in ("https://app.example/path", "app.example", "https://app.example?x", "javascript:x"):
        with pytest.raises(ValidationError):
            normalize_origin(bad)


@given(st.text(max_size=60))
def test_whatever_is_kept_is_relative_or_allowed(value: str) -> None:
    kept = safe_return_to(value, ALLOWED)
    if kept is not None:
        assert kept == value
        if kept.startswith("/"):
            assert not kept.startswith("//") and "\\" not in kept
        else:
            assert origin_of(kept) in ALLOWED


@given(st.sampled_from(["/", "//", "/\\", "https:", "https://", "@", "%2f", "%5c", "\t", "evil.example"]).flatmap(
    lambda head: st.lists(st.sampled_from(["/", "\\", "%2F", "%09", "@", ".", "evil", ":", "app.example"]), max_size=6)
    .map(lambda parts: head + "".join(parts))
))
def test_generated_prefix_tricks_never_reach_another_host(value: str) -> None:
    kept = safe_return_to(value, ALLOWED)
    if kept is not None:
        assert kept.startswith("/") and not kept.startswith("//") or origin_of(kept) in ALLOWED
