"""What the SCIM server publishes and the pure input rules: paging, attribute lists, clean text."""

from __future__ import annotations

import pytest

from examples.invoicing.scim.protocol import (
    GROUP_ATTRIBUTES,
    MAX_COUNT,
    USER_ATTRIBUTES,
    Paging,
    ScimError,
    check_clean,
    parse_attribute_list,
    parse_paging,
    resource_types,
    schemas,
    service_provider_config,
)


def test_paging_defaults_and_rfc_rules() -> None:
    assert parse_paging({}) == Paging(1, 100)
    assert parse_paging({"startIndex": "21", "count": "10"}) == Paging(21, 10)
    assert parse_paging({"startIndex": 21, "count": 10}) == Paging(21, 10)  # a search body's integers
    assert parse_paging({"startIndex": "21"}).offset == 20
    # RFC 7644 3.4.2.4: startIndex < 1 means 1; a negative count means 0.
    assert parse_paging({"startIndex": "0", "count": "-5"}) == Paging(1, 0)
    assert parse_paging({"count": "999999"}).count == MAX_COUNT


@pytest.mark.parametrize(
    "args", [{"startIndex": "abc"}, {"count": "1.5"}, {"count": "1e3"}, {"startIndex": "9" * 40}, {"count": True}]
)
def test_paging_rejects_non_integers(args: dict[str, object]) -> None:
    with pytest.raises(ScimError) as err:
        parse_paging(args)
    assert err.value.status == 400 and err.value.scim_type == "invalidValue"


def test_attribute_lists() -> None:
    assert parse_attribute_list(None, "attributes") is None
    assert parse_attribute_list("userName, emails.value", "attributes") == ["userName", "emails.value"]
    assert parse_attribute_list(["displayName"], "attributes") == ["displayName"]
    for bad in (5, [1], ["a\x00"], ["\ud800"]):
        with pytest.raises(ScimError):
            parse_attribute_list(bad, "attributes")


@pytest.mark.parametrize(
    "value", ["\ud800", "a\x00b", {"k\udfff": 1}, [["x", {"y": "\udc00"}]], [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
)
def test_text_a_database_cannot_store_is_refused(value: object) -> None:
    with pytest.raises(ScimError) as err:
        check_clean(value)
    assert err.value.status == 400


def test_published_schemas_hold_what_the_app_keeps() -> None:
    published = {schema.id: schema for schema in schemas()}
    user = published["urn:ietf:params:scim:schemas:core:2.0:User"]
    group = published["urn:ietf:params:scim:schemas:core:2.0:Group"]
    assert {a.name for a in user.attributes or []} == set(USER_ATTRIBUTES)
    assert {a.name for a in group.attributes or []} == set(GROUP_ATTRIBUTES)
    emails = next(a for a in user.attributes or [] if a.name == "emails")
    assert [s.name for s in emails.sub_attributes or []] == ["value"]
    display_name = next(a for a in group.attributes or [] if a.name == "displayName")
    assert display_name.uniqueness == "server" and display_name.required
    assert {
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
        "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
        "urn:ietf:params:scim:schemas:core:2.0:Schema",
    } <= set(published)


def test_service_provider_config_advertises_only_what_is_done() -> None:
    config = service_provider_config()
    assert config.patch and config.patch.supported
    assert config.filter and config.filter.supported and config.filter.max_results == MAX_COUNT
    for unsupported in (config.bulk, config.sort, config.etag, config.change_password):
        assert unsupported is not None and not unsupported.supported
    assert [t.endpoint for t in resource_types()] == ["/Users", "/Groups"]
