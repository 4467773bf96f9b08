"""A real loopback HTTP server playing well-behaved and badly-behaved directories.

Each path prefix is one directory: ``/scim`` is a correct SCIM 2.0 server (Users with POST;
Groups with members and PATCH, RFC 7643 section 4.2 / RFC 7644 section 3.5.2), the others
each fail in one way. It runs with werkzeug's threaded server on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

TOKEN = "good-token"


def scim_user(i: int, **extra: Any) -> dict[str, Any]:
    user: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": f"u{i}",
        "userName": f"user{i}",
        "emails": [{"value": f"user{i}@example.com", "primary": True}],
        "name": {"formatted": f"User {i}"},
        "active": True,
    }
    user.update(extra)
    return user


def scim_group(gid: str, name: str, members: list[str]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": gid,
        "displayName": name,
        "members": [{"value": m, "$ref": f"../Users/{m}", "type": "User"} for m in members],
    }


_REMOVE_PATH = re.compile(r'members\[value eq "([^"]*)"\]')


class Directories:
    """The WSGI application; ``users`` is the state of the good SCIM directory."""

    def __init__(self) -> None:
        self.users: list[dict[str, Any]] = [scim_user(i) for i in range(1, 8)]
        self.users[1] = scim_user(
            2,
            emails=[{"value": "work2@example.com"}, {"value": "user2@example.com", "primary": True}],
            name=None,
            displayName="Second User",
        )
        self.users[2] = scim_user(3, emails=[{"value": "first3@example.com"}, {"value": "other3@example.com"}])
        self.users[3] = scim_user(4, active=False)
        self.groups: list[dict[str, Any]] = [
            scim_group("g1", "Finance", ["u1", "u2"]),
            scim_group("g2", "Sales", ["u3"]),
            scim_group("g3", "Warehouse", []),
        ]
        self.requests: list[str] = []
        self.authorizations: list[tuple[str, str]] = []  # (path, Authorization header) of every request
        self.release = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(request.full_path)
        self.authorizations.append((request.path, request.headers.get("Authorization", "")))
        response = self.route(request)
        return response(environ, start_response)

    @staticmethod
    def json(data: Any, status: int = 200) -> Response:
        return Response(json.dumps(data), status=status, mimetype="application/scim+json")

    def scim_page(self, request: Request, users: list[dict[str, Any]], cap: int | None = None) -> Response:
        start = int(request.args.get("startIndex", 1))
        count = int(request.args.get("count", 100))
        if cap is not None:
            count = min(count, cap)
        page = users[start - 1 : start - 1 + count]
        return self.json({"totalResults": len(users), "itemsPerPage": len(page), "startIndex": start, "Resources": page})

    def route(self, request: Request) -> Response:
        path = request.path
        bearer = request.headers.get("Authorization") == f"Bearer {TOKEN}"
        if path == "/scim/Users":
            if not bearer:
                return self.json({"detail": "no"}, 401)
            if request.method == "POST":
                body = request.get_json(force=True)
                if any(u["userName"] == body.get("userName") for u in self.users):
                    return self.json({"detail": "exists"}, 409)
                created = dict(body, id=f"u{len(self.users) + 1}")
                self.users.append(created)
                return self.json(created, 201)
            return self.scim_page(request, self.users)
        if path == "/scim/Groups":
            if not bearer:
                return self.json({"detail": "no"}, 401)
            return self.scim_page(request, self.groups)
        if path.startswith("/scim/Groups/"):
            return self.group(request, path.rsplit("/", 1)[1], bearer)
        if path == "/s500groups/Users":  # users fine, groups fail
            return self.scim_page(request, self.users)
        if path == "/s500groups/Groups":
            return Response("boom", status=500)
        if path == "/short/Users":  # answers fewer users than asked for
            return self.scim_page(request, self.users, cap=2)
        if path == "/s401/Users":
            return self.json({"detail": "bad token"}, 401)
        if path == "/s403/Users":
            return self.json({"detail": "forbidden"}, 403)
        if path == "/s500/Users":
            return Response("boom", status=500)
        if path == "/badjson/Users":
            return Response("<html>not json</html>", mimetype="text/html")
        if path == "/wrongshape/Users":
            return self.json([1, 2, 3])
        if path == "/nototal/Users":
            return self.json({"Resources": []})
        if path == "/baduser/Users":
            return self.json({"totalResults": 1, "Resources": [{"id": "x", "emails": []}]})
        if path == "/missing/Users":  # announces 10, has 4
            start, count = int(request.args["startIndex"]), int(request.args["count"])
            return self.json({"totalResults": 10, "Resources": self.users[:4][start - 1 : start - 1 + count]})
        if path == "/repeat/Users":  # ignores startIndex
            return self.json({"totalResults": 10, "Resources": self.users[:3]})
        if path == "/slow/Users":
            self.release.wait(5)
            return self.scim_page(request, self.users)
        hostile = self.hostile(path, request.args.get("page", "1"))
        if hostile is not None:
            return hostile
        if path == "/json/users":
            if request.args.get("api_token") != TOKEN:
                return self.json({"error": "token"}, 401)
            pages = {
                1: [{"id": 1, "login": "ann", "email": "ann@example.com", "name": "Ann A"},
                    {"id": 2, "login": "bob", "email": "bob@example.com", "first_name": "Bob", "last_name": "B"}],
                2: [{"id": 3, "login": "cat", "email": "cat@example.com"}],
            }
            return self.json(pages.get(int(request.args.get("page", 1)), []))
        if path == "/json-endless/users":
            page = int(request.args.get("page", 1))
            return self.json([{"login": f"u{page}", "email": f"u{page}@example.com"}])
        if path == "/json-notlist/users":
            return self.json({"users": []})
        return self.json({"detail": "not found"}, 404)


    def hostile(self, path: str, page: str) -> Response | None:
        """Directories that send data no parser should trust (``/h-<name>/Users`` for SCIM,
        ``/hj-<name>/users`` for the JSON list): ids that are lists, 50,000-deep nesting,
        lone surrogates, numbers too long to read."""
        deep = "[" * 50_000 + "]" * 50_000
        scim = {
            "/h-listid/Users": json.dumps({"totalResults": 1, "Resources": [scim_user(1, id=["a"])]}),
            "/h-dictid/Users": json.dumps({"totalResults": 1, "Resources": [scim_user(1, id={"a": 1})]}),
            "/h-deep/Users": '{"totalResults": 1, "Resources": ' + deep + "}",
            "/h-deepuser/Users": '{"totalResults": 1, "Resources": [{"userName": ' + deep + "}]}",
            "/h-surrogate/Users": json.dumps({"totalResults": 1, "Resources": [scim_user(1, userName="a\ud800b")]}),
            "/h-surrogate-email/Users": json.dumps(
                {"totalResults": 1, "Resources": [scim_user(1, emails=[{"value": "x\udfff@example.com"}])]}
            ),
            "/h-surrogate-name/Users": json.dumps(
                {"totalResults": 1, "Resources": [scim_user(1, name={"formatted": "\ud83d"})]}
            ),
            "/h-surrogate-id/Users": json.dumps({"totalResults": 1, "Resources": [scim_user(1, id="\udc00")]}),
            "/h-bigint/Users": '{"totalResults": 1' + "0" * 5000 + ', "Resources": []}',
        }
        lists = {
            "/hj-listid/users": json.dumps([{"id": ["a"], "login": "a", "email": "a@example.com"}]),
            "/hj-deep/users": deep,
            "/hj-surrogate/users": json.dumps([{"id": 1, "login": "\ud800", "email": "a@example.com"}]),
            "/hj-surrogate-name/users": json.dumps([{"id": 1, "login": "a", "email": "a@x.example",
                                                     "first_name": "\udfff", "last_name": "b"}]),
        }
        body = scim.get(path) or lists.get(path)
        if path in lists and page != "1":
            body = "[]"  # one page only: the list source stops at the first empty page
        if body is None:
            return None
        return Response(body, mimetype="application/scim+json" if path in scim else "application/json")

    def group(self, request: Request, gid: str, bearer: bool) -> Response:
        """``GET`` or ``PATCH /scim/Groups/<id>``: add members, or remove ``members[value eq "x"]``."""
        if not bearer:
            return self.json({"detail": "no"}, 401)
        group = next((g for g in self.groups if g["id"] == gid), None)
        if group is None:
            return self.json({"detail": "no such group"}, 404)
        if request.method == "GET":
            return self.json(group)
        if request.method != "PATCH":
            return self.json({"detail": "method"}, 405)
        body = request.get_json(force=True)
        if body.get("schemas") != ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]:
            return self.json({"detail": "bad schemas", "scimType": "invalidSyntax"}, 400)
        known = {u["id"] for u in self.users}
        for op in body.get("Operations", []):
            kind = str(op.get("op", "")).lower()
            if kind == "add" and op.get("path") == "members":
                for member in op["value"]:
                    if member["value"] not in known:
                        return self.json({"detail": "unknown user", "scimType": "invalidValue"}, 400)
                    if all(m["value"] != member["value"] for m in group["members"]):
                        group["members"].append({"value": member["value"], "type": "User"})
            elif kind == "remove" and (match := _REMOVE_PATH.fullmatch(str(op.get("path", "")))):
                group["members"] = [m for m in group["members"] if m["value"] != match.group(1)]
            else:
                return self.json({"detail": "unsupported op", "scimType": "invalidPath"}, 400)
        return Response(status=204)


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` on a free loopback port; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
