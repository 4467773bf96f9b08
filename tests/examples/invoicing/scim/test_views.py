"""The SCIM endpoint over HTTP: auth, paging, filters, create, errors in SCIM's JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from examples.invoicing.demo import bulk_users, seed_demo

from ..conftest import SCIM_TOKEN, AppFactory, add_account

AUTH = {"Authorization": f"Bearer {SCIM_TOKEN}"}
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def get(client: FlaskClient, path: str, **params: Any) -> Any:
    return client.get("/scim/v2" + path, query_string=params, headers=AUTH)


def post(client: FlaskClient, body: object, raw: bytes | None = None) -> Any:
    data = raw if raw is not None else json.dumps(body)
    return client.post("/scim/v2/Users", data=data, content_type="application/scim+json", headers=AUTH)


def assert_scim_error(response: Any, status: int, scim_type: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/scim+json"
    body = response.get_json(force=True)
    assert body["schemas"] == [ERROR_SCHEMA] and body["status"] == str(status)
    assert body.get("scimType") == scim_type


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token-0123456789abcd", f"Basic {SCIM_TOKEN}", f"Bearer {SCIM_TOKEN}x", "Bearer ", "Bearer é"],
)
def test_bearer_token_is_required(client: FlaskClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    for response in (
        client.get("/scim/v2/Users", headers=headers),
        client.get("/scim/v2/Users/1", headers=headers),
        client.post("/scim/v2/Users", json={"userName": "x"}, headers=headers),
    ):
        assert_scim_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_without_a_configured_token_everyone_is_refused(make_app: AppFactory) -> None:
    client = make_app(SCIM_TOKEN=None).test_client()
    assert_scim_error(client.get("/scim/v2/Users", headers={"Authorization": "Bearer "}), 401)
    assert_scim_error(client.get("/scim/v2/Users", headers={"Authorization": "Bearer None"}), 401)


def test_list_pages_through_every_user(app: Flask, client: FlaskClient) -> None:
    bulk_users(app, 25)
    seen: list[str] = []
    start = 1
    while True:
        page = get(client, "/Users", startIndex=start, count=10)
        assert page.status_code == 200 and page.mimetype == "application/scim+json"
        body = page.get_json(force=True)
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
        assert body["totalResults"] == 25 and body["startIndex"] == start
        assert body["itemsPerPage"] == len(body["Resources"])
        seen += [r["userName"] for r in body["Resources"]]
        if not body["Resources"] or start + body["itemsPerPage"] > body["totalResults"]:
            break
        start += body["itemsPerPage"]
    assert [len(seen[i : i + 10]) for i in range(0, 25, 10)] == [10, 10, 5]  # short last page
    assert seen == [f"user{n:06d}" for n in range(1, 26)]


def test_list_beyond_the_end_and_count_zero(app: Flask, client: FlaskClient) -> None:
    bulk_users(app, 3)
    beyond = get(client, "/Users", startIndex=10).get_json(force=True)
    assert beyond["totalResults"] == 3 and beyond["Resources"] == [] and beyond["itemsPerPage"] == 0
    counted = get(client, "/Users", count=0).get_json(force=True)
    assert counted["totalResults"] == 3 and counted["itemsPerPage"] == 0
    negative = get(client, "/Users", count=-4, startIndex=-2).get_json(force=True)  # RFC: means 0 and 1
    assert (negative["itemsPerPage"], negative["startIndex"]) == (0, 1)


@pytest.mark.parametrize("params", [{"startIndex": "abc"}, {"count": "ten"}, {"count": "1;DROP TABLE accounts"}])
def test_bad_paging_parameters(client: FlaskClient, params: dict[str, str]) -> None:
    assert_scim_error(get(client, "/Users", **params), 400, "invalidValue")


def test_filters_compare_case_insensitively(app: Flask, client: FlaskClient) -> None:
    seed_demo(app)
    cases = {
        'userName eq "ANN"': ["ann"],
        'userName eq "carol"': [],
        'emails eq "erin@example.com"': ["erin"],  # stored as ERIN@Example.com
        'emails.value eq "Carol@Example.com"': ["caroline"],
    }
    for expression, logins in cases.items():
        body = get(client, "/Users", filter=expression).get_json(force=True)
        assert [r["userName"] for r in body["Resources"]] == logins, expression
        assert body["totalResults"] == len(logins)

    for invalid in ('userName eq', "((", 'userName zz "a"', 'userName gt 3', "x" * 2000):
        assert_scim_error(get(client, "/Users", filter=invalid), 400, "invalidFilter")


def test_any_filter_of_rfc_7644_works(app: Flask, client: FlaskClient) -> None:
    seed_demo(app)
    cases = {
        'userName sw "a"': ["admin", "ann"],
        'userName co "o" or emails.value ew "old-mail.example"': ["bob", "caroline"],
        'emails[value co "example.com"] and not (userName eq "ann")': ["admin", "caroline", "erin", "frank"],
        'displayName pr and active eq true': ["admin", "ann", "bob", "caroline", "erin", "frank"],
        'id eq "2"': ["ann"],
    }
    for expression, logins in cases.items():
        body = get(client, "/Users", filter=expression).get_json(force=True)
        assert [r["userName"] for r in body["Resources"]] == logins, expression
        assert body["totalResults"] == len(logins)
    paged = get(client, "/Users", filter='userName co "a"', startIndex=2, count=2).get_json(force=True)
    assert paged["totalResults"] == 4 and [r["userName"] for r in paged["Resources"]] == ["ann", "caroline"]


def test_get_one_user(app: Flask, client: FlaskClient) -> None:
    add_account(app, "ann", "ann@example.com")
    body = get(client, "/Users/1").get_json(force=True)
    assert body["userName"] == "ann" and body["id"] == "1" and body["active"] is True
    assert body["meta"]["location"] == "http://localhost/scim/v2/Users/1"
    assert body["meta"]["created"].endswith("Z") and body["meta"]["resourceType"] == "User"
    for missing in ("2", "abc", "99999999999999999999", "-1"):
        assert_scim_error(get(client, f"/Users/{missing}"), 404)


def test_create_user(client: FlaskClient) -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "dave",
        "emails": [{"value": "dave@example.com", "primary": True}],
        "name": {"formatted": "Dave Dunn"},
        "active": True,
    }
    response = post(client, body)
    assert response.status_code == 201 and response.mimetype == "application/scim+json"
    created = response.get_json(force=True)
    assert response.headers["Location"] == created["meta"]["location"]
    assert (created["userName"], created["displayName"], created["emails"][0]["value"]) == (
        "dave", "Dave Dunn", "dave@example.com",
    )
    again = get(client, "/Users", filter='userName eq "dave"').get_json(force=True)
    assert again["Resources"] == [created]


def test_create_duplicate_is_a_uniqueness_conflict(app: Flask, client: FlaskClient) -> None:
    add_account(app, "ann", "ann@example.com")
    assert_scim_error(post(client, {"userName": "ANN", "emails": [{"value": "new@example.com"}]}), 409, "uniqueness")
    assert_scim_error(post(client, {"userName": "annie", "emails": [{"value": "Ann@Example.com"}]}), 409, "uniqueness")


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b"\xff\xfe", b"[" * 30000])
def test_create_with_a_body_that_is_no_json_object(client: FlaskClient, raw: bytes) -> None:
    assert_scim_error(post(client, None, raw=raw), 400, "invalidSyntax")


@pytest.mark.parametrize(
    "body", [{"userName": 3}, {"userName": ["a"]}, {"userName": "zed", "emails": "nope"}, {"displayName": "no login"}]
)
def test_create_with_bad_values(client: FlaskClient, body: object) -> None:
    assert_scim_error(post(client, body), 400, "invalidValue")


def test_create_without_an_email_is_allowed(client: FlaskClient) -> None:
    response = post(client, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "noemail"})
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json(force=True)
    assert "emails" not in created and created["active"] is True


def test_unsupported_methods_answer_in_scim_json(client: FlaskClient) -> None:
    assert_scim_error(client.put("/scim/v2/Users", headers=AUTH), 405)
    assert_scim_error(client.post("/scim/v2/Users/1", headers=AUTH), 405)
    assert_scim_error(client.get("/scim/v2/Nothing", headers=AUTH), 404)


def test_scim_needs_no_csrf_token(client: FlaskClient) -> None:
    # Bearer-authenticated API: a POST without any CSRF token is accepted.
    assert post(client, {"userName": "zoe", "emails": [{"value": "zoe@example.com"}]}).status_code == 201
