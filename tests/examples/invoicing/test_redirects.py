"""The reference app's return_to check is the hub's: only this app's own places survive.

The app calls :func:`sso.base.redirects.safe_return_to` with its own origin as the only
allowed one (the open-redirect tricks seen in real Multipass consumers). These are the cases the app's own copy of the check
was tested with; the hub's test module holds the rest.
"""

from __future__ import annotations

import pytest

from sso.base.redirects import safe_return_to

OWN = "http://127.0.0.1:5001/"  # as request.host_url gives it

HOSTILE = [
    "//evil.example",
    "//evil.example/invoices",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:\\evil.example",
    "https:\\\\evil.example",
    "/%09/evil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "/%252F/evil.example",
    "/%25252F/evil.example",
    "/%20/evil.example",
    "/%E3%80%80/evil.example",
    "/\t/evil.example",
    "/invoices\r\nLocation: http://evil.example",
    "/invoices%0d%0aSet-Cookie:x=1",
    "/ /evil.example",
    "user@evil.example",
    "http://user@127.0.0.1:5001/",
    "http://127.0.0.1:5001@evil.example/",
    "https://evil.example/",
    "http://127.0.0.1:5002/invoices",
    "https://127.0.0.1:5001/invoices",
    "http://127.0.0.1.evil.example:5001/",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "invoices",
    "",
    "/" + "a" * 3000,
    None,
    42,
    ["/invoices"],
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_targets_are_refused(value: object) -> None:
    assert safe_return_to(value, [OWN]) is None


@pytest.mark.parametrize(
    "value",
    [
        "/",
        "/invoices",
        "/invoices/new?client=Acme%20Ltd#top",
        "http://127.0.0.1:5001/invoices?page=2",
        "HTTP://127.0.0.1:5001",
    ],
)
def test_own_places_are_kept_unchanged(value: str) -> None:
    assert safe_return_to(value, [OWN]) == value


def test_an_absolute_url_needs_the_own_origin() -> None:
    assert safe_return_to("http://127.0.0.1:5001/invoices", []) is None
    assert safe_return_to("/invoices", []) == "/invoices"


def test_default_ports_are_the_same_origin() -> None:
    assert safe_return_to("https://invoices.example:443/x", ["https://invoices.example/"]) == (
        "https://invoices.example:443/x"
    )
    assert safe_return_to("http://invoices.example/x", ["https://invoices.example/"]) is None
