"""SCIM beyond listing: discovery, PUT, PATCH, DELETE, Groups (departments), attribute
selection, searches, deactivation ending sessions, and hostile input (400, never 500)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from examples.invoicing.demo import seed_demo

from ..conftest import SCIM_TOKEN, signed_in_login
from .test_views import AUTH, assert_scim_error

Token = Callable[..., str]
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BASE = "http://localhost/scim/v2"


def send(client: FlaskClient, method: str, path: str, body: object = None, raw: bytes | None = None,
         **params: Any) -> Any:
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    return client.open("/scim/v2" + path, method=method, data=data, query_string=params,
                       content_type="application/scim+json", headers=AUTH)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    assert status == 204 or response.mimetype == "application/scim+json"
    return response.get_json(force=True) if status != 204 else None


def patch(client: FlaskClient, path: str, *operations: dict[str, Any]) -> Any:
    return send(client, "PATCH", path, {"schemas": [PATCH_SCHEMA], "Operations": list(operations)})


def new_user(client: FlaskClient, login: str, **extra: Any) -> dict[str, Any]:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": login,
            "emails": [{"value": f"{login}@example.com", "primary": True}], **extra}
    created: dict[str, Any] = ok(send(client, "POST", "/Users", body), 201)
    return created


def new_group(client: FlaskClient, name: str, *members: str) -> dict[str, Any]:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name,
            "members": [{"value": m} for m in members]}
    created: dict[str, Any] = ok(send(client, "POST", "/Groups", body), 201)
    return created


# -- discovery ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes"])
def test_discovery_is_read_only(client: FlaskClient, path: str) -> None:
    ok(send(client, "GET", path))
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert_scim_error(send(client, method, path, {}), 405)


def test_discovery_documents(client: FlaskClient) -> None:
    config = ok(send(client, "GET", "/ServiceProviderConfig"))
    assert config["patch"] == {"supported": True} and config["filter"]["supported"] is True
    assert config["sort"] == {"supported": False} and config["etag"] == {"supported": False}
    types = ok(send(client, "GET", "/ResourceTypes"))
    assert [t["endpoint"] for t in types["Resources"]] == ["/Users", "/Groups"]
    assert ok(send(client, "GET", "/ResourceTypes/Group"))["schema"] == "urn:ietf:params:scim:schemas:core:2.0:Group"
    user_schema = ok(send(client, "GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"))
    assert {a["name"] for a in user_schema["attributes"]} == {"userName", "displayName", "active", "emails", "groups"}
    assert_scim_error(send(client, "GET", "/Schemas/urn:nothing"), 404)
    assert_scim_error(send(client, "GET", "/ResourceTypes/Nothing"), 404)


# -- users: PUT, PATCH, DELETE, attribute selection -------------------------------------


def test_put_replaces_what_the_app_keeps(client: FlaskClient) -> None:
    user = new_user(client, "dora", displayName="Dora")
    replaced = ok(send(client, "PUT", f"/Users/{user['id']}", {"userName": "dora2", "active": False}))
    assert replaced["userName"] == "dora2" and replaced["active"] is False
    assert "emails" not in replaced and "displayName" not in replaced  # absent means cleared
    assert_scim_error(send(client, "PUT", "/Users/999", {"userName": "x"}), 404)


def test_patch_add_replace_remove_with_filtered_paths(client: FlaskClient) -> None:
    user = new_user(client, "eve")
    path = f"/Users/{user['id']}"
    after = ok(patch(client, path, {"op": "add", "path": "displayName", "value": "Eve E."},
                     {"op": "replace", "path": 'emails[value eq "eve@example.com"].value', "value": "eve@new.example"}))
    assert after["displayName"] == "Eve E." and after["emails"] == [{"value": "eve@new.example"}]
    after = ok(patch(client, path, {"op": "replace", "value": {"userName": "eve2", "externalId": "hub-7"}}))
    assert (after["userName"], after["externalId"]) == ("eve2", "hub-7")
    after = ok(patch(client, path, {"op": "remove", "path": 'emails[value eq "eve@new.example"]'}))
    assert "emails" not in after
    assert_scim_error(patch(client, path, {"op": "remove", "path": "userName"}), 400, "mutability")
    assert_scim_error(patch(client, path, {"op": "explode", "path": "userName"}), 400, "invalidValue")
    second = [{"value": "a@example.com"}, {"value": "b@example.com"}]
    assert_scim_error(patch(client, path, {"op": "add", "path": "emails", "value": second}), 400, "invalidValue")
    assert_scim_error(patch(client, "/Users/999", {"op": "remove", "path": "displayName"}), 404)


def test_patch_to_a_taken_login_is_a_conflict(client: FlaskClient) -> None:
    new_user(client, "fay")
    gus = new_user(client, "gus")
    assert_scim_error(patch(client, f"/Users/{gus['id']}", {"op": "replace", "path": "userName", "value": "FAY"}),
                      409, "uniqueness")


def test_attributes_and_excluded_attributes(client: FlaskClient) -> None:
    user = new_user(client, "hal", displayName="Hal")
    only = ok(send(client, "GET", f"/Users/{user['id']}", attributes="displayName"))
    assert set(only) == {"schemas", "id", "displayName"}
    without = ok(send(client, "GET", f"/Users/{user['id']}", excludedAttributes="emails,displayName"))
    assert "emails" not in without and "displayName" not in without and without["userName"] == "hal"
    listed = ok(send(client, "GET", "/Users", attributes="userName"))["Resources"][0]
    assert set(listed) == {"schemas", "id", "userName"}
    both = send(client, "GET", "/Users", attributes="userName", excludedAttributes="emails")
    assert_scim_error(both, 400, "invalidValue")


def test_delete_user(app: Flask, client: FlaskClient) -> None:
    seed_demo(app)  # frank issued an invoice: it stays, without its issuer
    frank = ok(send(client, "GET", "/Users", filter='userName eq "frank"'))["Resources"][0]
    group = new_group(client, "Sales", frank["id"])
    ok(send(client, "DELETE", f"/Users/{frank['id']}"), 204)
    assert_scim_error(send(client, "GET", f"/Users/{frank['id']}"), 404)
    assert "members" not in ok(send(client, "GET", f"/Groups/{group['id']}"))


# -- groups (departments) ---------------------------------------------------------------


def test_groups_hold_members_and_users_show_their_groups(client: FlaskClient) -> None:
    ann, bob = new_user(client, "ann"), new_user(client, "bob")
    sales = new_group(client, "Sales", ann["id"], bob["id"])
    assert sales["id"].startswith("g") and sales["displayName"] == "Sales"
    assert sales["members"] == [
        {"value": ann["id"], "$ref": f"{BASE}/Users/{ann['id']}", "type": "User"},
        {"value": bob["id"], "$ref": f"{BASE}/Users/{bob['id']}", "type": "User"},
    ]
    assert ok(send(client, "GET", f"/Users/{ann['id']}"))["groups"] == [
        {"value": sales["id"], "$ref": f"{BASE}/Groups/{sales['id']}", "display": "Sales"}
    ]
    after = ok(patch(client, f"/Groups/{sales['id']}", {"op": "remove", "path": f'members[value eq "{ann["id"]}"]'}))
    assert [m["value"] for m in after["members"]] == [bob["id"]]
    after = ok(patch(client, f"/Groups/{sales['id']}", {"op": "add", "path": "members", "value": [{"value": ann["id"]}]}))
    assert [m["value"] for m in after["members"]] == [ann["id"], bob["id"]]
    found = ok(send(client, "GET", "/Groups", filter='displayName eq "SALES"'))
    assert [g["id"] for g in found["Resources"]] == [sales["id"]]
    found = ok(send(client, "GET", "/Groups", filter=f'members[value eq "{bob["id"]}"]'))
    assert found["totalResults"] == 1
    ok(send(client, "DELETE", f"/Groups/{sales['id']}"), 204)
    assert "groups" not in ok(send(client, "GET", f"/Users/{ann['id']}"))


def test_group_names_are_unique_and_members_must_exist(client: FlaskClient) -> None:
    new_group(client, "Finance")
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": " finance "}
    assert_scim_error(send(client, "POST", "/Groups", body), 409, "uniqueness")
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ghosts",
            "members": [{"value": "424242"}]}
    assert_scim_error(send(client, "POST", "/Groups", body), 400, "invalidValue")
    assert_scim_error(send(client, "POST", "/Groups", {"members": []}), 400, "invalidValue")
    assert_scim_error(send(client, "GET", "/Groups/1"), 404)  # group ids are "g<n>"


def test_search_across_users_and_groups(client: FlaskClient) -> None:
    user = new_user(client, "ivy")
    group = new_group(client, "Ops")
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "attributes": ["displayName"]}
    found = ok(send(client, "POST", "/.search", body))
    assert {r["id"] for r in found["Resources"]} == {user["id"], group["id"]}
    by_name = ok(send(client, "POST", "/.search", {"filter": 'userName eq "ivy"'}))
    assert [r["id"] for r in by_name["Resources"]] == [user["id"]]
    users = ok(send(client, "POST", "/Users/.search", {"filter": 'userName sw "i"', "count": 1}))
    assert users["totalResults"] == 1


# -- deactivation ends the account's sessions -------------------------------------------


@pytest.mark.parametrize("how", ["PATCH", "PATCH without path", "PUT"])
def test_deactivation_through_scim_ends_every_session(app: Flask, token: Token, how: str) -> None:
    browser, other_browser = app.test_client(), app.test_client()
    browser.get("/login?multipass=" + token())
    other_browser.get("/login?multipass=" + token())
    scim = app.test_client()
    ann = ok(send(scim, "GET", "/Users", filter='userName eq "ann"'))["Resources"][0]
    if how == "PATCH":
        ok(patch(scim, f"/Users/{ann['id']}", {"op": "replace", "path": "active", "value": False}))
    elif how == "PATCH without path":
        ok(patch(scim, f"/Users/{ann['id']}", {"op": "replace", "value": {"active": False}}))
    else:
        ok(send(scim, "PUT", f"/Users/{ann['id']}", {"userName": "ann", "emails": [{"value": "ann@example.com"}],
                                                     "active": False}))
    assert signed_in_login(browser) is None and signed_in_login(other_browser) is None
    ok(patch(scim, f"/Users/{ann['id']}", {"op": "replace", "path": "active", "value": True}))
    assert signed_in_login(browser) is None  # reactivation does not revive old cookies
    fresh = app.test_client()
    fresh.get("/login?multipass=" + token())
    assert signed_in_login(fresh) == "ann"


# -- hostile input: a clear 400, never a 500 --------------------------------------------

LONE = "\\ud800"  # JSON escape of an unpaired surrogate, as a hostile client sends it


@pytest.mark.parametrize(
    "raw",
    [
        '{"userName": "x<LONE>"}'.replace("<LONE>", LONE).encode(),
        '{"userName": "ok", "emails": [{"value": "<LONE>@x.example"}]}'.replace("<LONE>", LONE).encode(),
        '{"userName": "ok", "<LONE>": 1}'.replace("<LONE>", LONE).encode(),
        b'{"userName": "nul\\u0000"}',
        b"[" * 20000 + b"]" * 20000,
    ],
)
def test_hostile_post_bodies(client: FlaskClient, raw: bytes) -> None:
    response = send(client, "POST", "/Users", raw=raw)
    assert response.status_code == 400 and response.get_json(force=True)["schemas"] == [
        "urn:ietf:params:scim:api:messages:2.0:Error"
    ]


@pytest.mark.parametrize(
    "operation",
    [
        '{"op": "replace", "path": "userName", "value": "<LONE>"}'.replace("<LONE>", LONE),
        '{"op": "replace", "path": "emails[value eq \\"<LONE>\\"].value", "value": "a@b.example"}'.replace(
            "<LONE>", LONE
        ),
        '{"op": "remove", "path": "<LONE>"}'.replace("<LONE>", LONE),
        '{"op": "add", "path": "emails[[[[[[", "value": 1}',
        '{"op": "replace", "path": "userName", "value": {"deep": [1, 2]}}',
        '{"op": "replace", "path": "active", "value": "maybe"}',
        '{"op": "replace"}',
    ],
)
def test_hostile_patch_operations(client: FlaskClient, operation: str) -> None:
    user = new_user(client, "kim")
    raw = json.dumps({"schemas": [PATCH_SCHEMA], "Operations": ["<OP>"]}).replace('"<OP>"', operation).encode()
    response = send(client, "PATCH", f"/Users/{user['id']}", raw=raw)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert ok(send(client, "GET", f"/Users/{user['id']}"))["userName"] == "kim"


@pytest.mark.parametrize(
    "query",
    [
        "filter=userName%20eq%20%22%5Cud800%22",  # userName eq "\ud800"
        "filter=emails%5Bvalue%20eq%20%22%5Cudfff%22%5D",
        "filter=userName%20eq%20%22%00%22",
        "filter=" + "(" * 500,
        "filter=userName%20eq%20%22%ED%A0%80%22",  # a surrogate's UTF-8 bytes (invalid UTF-8)
        "attributes=%00",
        "count=%F0%9F%92%A3",
    ],
)
def test_hostile_list_queries(client: FlaskClient, query: str) -> None:
    response = client.get("/scim/v2/Users?" + query, headers=AUTH)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    assert response.mimetype == "application/scim+json"
    assert response.status_code == 400 or response.get_json(force=True)["totalResults"] == 0


def test_hostile_search_body(client: FlaskClient) -> None:
    raw = '{"filter": "userName eq \\"<LONE>\\""}'.replace("<LONE>", LONE.replace("\\", "\\\\")).encode()
    assert send(client, "POST", "/.search", raw=raw).status_code == 400
    raw = '{"filter": "userName eq \\"x\\"", "attributes": ["<LONE>"]}'.replace("<LONE>", LONE).encode()
    assert send(client, "POST", "/.search", raw=raw).status_code == 400


def test_token_is_checked_on_every_endpoint(client: FlaskClient) -> None:
    for method, path in (("GET", "/ServiceProviderConfig"), ("GET", "/Groups"), ("POST", "/.search"),
                         ("PATCH", "/Users/1"), ("DELETE", "/Groups/g1")):
        response = client.open("/scim/v2" + path, method=method, headers={"Authorization": f"Bearer {SCIM_TOKEN}x"})
        assert_scim_error(response, 401)


def test_fast_list_output_equals_the_libraries(app: Flask, client: FlaskClient) -> None:
    """Lists build their JSON directly (for speed); it must be exactly what scim2-models gives."""
    import sqlalchemy as sa
    from scim2_models import Context

    from examples.invoicing.db import db
    from examples.invoicing.models import Account
    from examples.invoicing.models import Group as Department
    from examples.invoicing.scim import views

    seed_demo(app)
    ann = ok(send(client, "GET", "/Users", filter='userName eq "ann"'))["Resources"][0]
    ok(patch(client, f"/Users/{ann['id']}", {"op": "add", "path": "externalId", "value": "hub-2"},
             {"op": "remove", "path": "active"}))
    new_group(client, "Sales", ann["id"], "1")
    new_group(client, "Empty")
    listed = ok(send(client, "GET", "/Users"))["Resources"] + ok(send(client, "GET", "/Groups"))["Resources"]
    with app.test_request_context("/scim/v2/Users"):
        base = views._base()
        expected = [
            views._user(account, base).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
            for account in db.session.scalars(sa.select(Account).order_by(Account.id))
        ] + [
            views._group(group, base).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
            for group in db.session.scalars(sa.select(Department).order_by(Department.id))
        ]
    assert listed == expected
    assert any("groups" in r for r in listed) and any("externalId" in r for r in listed)
    assert any("active" not in r for r in listed if "userName" in r)
