"""The SCIM subset as pure functions: paging, filters, bodies, resources."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from examples.invoicing.scim.protocol import (
    MAX_COUNT,
    Filter,
    NewUser,
    Paging,
    ScimError,
    list_response,
    parse_filter,
    parse_new_user,
    parse_paging,
    user_resource,
)


def test_paging_defaults_and_rfc_rules() -> None:
    assert parse_paging({}) == Paging(1, 100)
    assert parse_paging({"startIndex": "21", "count": "10"}) == Paging(21, 10)
    assert parse_paging({"startIndex": "21"}).offset == 20
    # RFC 7644 3.4.2.4: startIndex < 1 means 1; a negative count means 0.
    assert parse_paging({"startIndex": "0", "count": "-5"}) == Paging(1, 0)
    assert parse_paging({"count": "999999"}).count == MAX_COUNT


@pytest.mark.parametrize("args", [{"startIndex": "abc"}, {"count": "1.5"}, {"count": "1e3"}, {"startIndex": "9" * 40}])
def test_paging_rejects_non_integers(args: dict[str, str]) -> None:
    with pytest.raises(ScimError) as err:
        parse_paging(args)
    assert err.value.status == 400 and err.value.scim_type == "invalidValue"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "ann"', Filter("userName", "ann")),
        ('USERNAME EQ "Ann"', Filter("userName", "Ann")),
        ('emails eq "ann@example.com"', Filter("email", "ann@example.com")),
        ('  emails.value eq "a\\"b@example.com"  ', Filter("email", 'a"b@example.com')),
        (None, None),
        ("", None),
    ],
)
def test_supported_filters(text: str | None, expected: Filter | None) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        'userName co "ann"',
        'userName eq "ann" or userName eq "bob"',
        'displayName eq "Ann"',
        "userName eq ann",
        'userName eq "ann',
        'userName eq "\\x"',
        "userName pr",
        "x" * 1000,
    ],
)
def test_unsupported_filters_are_invalid(text: str) -> None:
    with pytest.raises(ScimError) as err:
        parse_filter(text)
    assert err.value.status == 400 and err.value.scim_type == "invalidFilter"


def test_new_user_reads_primary_email_and_name() -> None:
    body = {
        "userName": " dave ",
        "emails": [{"value": "old@example.com"}, {"value": "dave@example.com", "primary": True}],
        "name": {"formatted": "Dave Dunn"},
        "active": False,
    }
    assert parse_new_user(body) == NewUser("dave", "dave@example.com", "Dave Dunn", False)
    assert parse_new_user({"userName": "d", "emails": [{"value": "d@x.example"}], "displayName": "D D"}).name == "D D"
    assert parse_new_user({"userName": "d", "emails": [{"value": "d@x.example"}]}).name == "d"


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"emails": [{"value": "a@example.com"}]},
        {"userName": "", "emails": [{"value": "a@example.com"}]},
        {"userName": "a", "emails": []},
        {"userName": "a", "emails": "a@example.com"},
        {"userName": "a", "emails": [{"value": "not an email"}]},
        {"userName": "a\nb", "emails": [{"value": "a@example.com"}]},
        {"userName": "a", "emails": [{"value": "a@example.com"}], "active": "yes"},
    ],
)
def test_bad_new_user_bodies(body: object) -> None:
    with pytest.raises(ScimError) as err:
        parse_new_user(body)
    assert err.value.status == 400 and err.value.scim_type == "invalidValue"


def test_resource_and_list_shapes() -> None:
    created = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    resource = user_resource(id=7, login="ann", email="ann@example.com", name="Ann", active=True,
                             created=created, location="http://x/scim/v2/Users/7")
    assert resource["id"] == "7" and resource["emails"] == [{"value": "ann@example.com", "primary": True}]
    assert resource["meta"] == {"resourceType": "User", "created": "2025-01-02T03:04:05+00:00",
                                "location": "http://x/scim/v2/Users/7"}
    listing = list_response([resource], total=10, start_index=3)
    assert (listing["totalResults"], listing["itemsPerPage"], listing["startIndex"]) == (10, 1, 3)
    error = ScimError(409, "taken", "uniqueness").to_json()
    assert error == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "409",
                     "detail": "taken", "scimType": "uniqueness"}
