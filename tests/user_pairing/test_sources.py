"""Directory sources against real loopback HTTP servers, and the CSV upload."""

from __future__ import annotations

import pytest

from tests.conftest import free_port
from user_pairing import (
    ConfigError,
    CsvSource,
    DirectoryConfig,
    DirectoryUser,
    JsonListSource,
    ScimSource,
    SourceError,
    build_source,
)

from .directory_server import TOKEN, Directories


def fails(kind: str, source: ScimSource | JsonListSource | CsvSource) -> SourceError:
    with pytest.raises(SourceError) as info:
        source.fetch()
    assert info.value.kind == kind, info.value
    assert TOKEN not in str(info.value)
    return info.value


# -- SCIM ----------------------------------------------------------------------------------------


def test_scim_follows_pages_to_a_short_last_page(base_url: str, directories: Directories) -> None:
    users = ScimSource(f"{base_url}/scim", TOKEN, page_size=3).fetch()
    assert [u.login for u in users] == [f"user{i}" for i in range(1, 8)]
    pages = [r for r in directories.requests if r.startswith("/scim/Users")]
    assert pages == [f"/scim/Users?startIndex={s}&count=3" for s in (1, 4, 7)]


def test_scim_reads_primary_email_name_and_active(base_url: str) -> None:
    users = {u.login: u for u in ScimSource(f"{base_url}/scim/", TOKEN).fetch()}
    assert users["user1"] == DirectoryUser("user1", "user1@example.com", "User 1", True, "u1")
    assert users["user2"].email == "user2@example.com"  # the primary one, listed second
    assert users["user2"].name == "Second User"  # displayName when name.formatted is absent
    assert users["user3"].email == "first3@example.com"  # no primary: the first
    assert users["user4"].active is False


def test_scim_server_returning_fewer_than_asked(base_url: str, directories: Directories) -> None:
    users = ScimSource(f"{base_url}/short", TOKEN, page_size=5).fetch()
    assert len(users) == 7
    assert [r.split("startIndex=")[1].split("&")[0] for r in directories.requests] == ["1", "3", "5", "7"]


def test_scim_missing_page(base_url: str) -> None:
    err = fails("missing_page", ScimSource(f"{base_url}/missing", TOKEN, page_size=2))
    assert "startIndex=5" in str(err) and "10" in str(err)


def test_scim_server_ignoring_start_index_does_not_loop(base_url: str) -> None:
    fails("malformed", ScimSource(f"{base_url}/repeat", TOKEN, page_size=3))


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("s401", "unauthorized"),
        ("s403", "unauthorized"),
        ("s500", "server_error"),
        ("badjson", "malformed"),
        ("wrongshape", "malformed"),
        ("nototal", "malformed"),
        ("baduser", "malformed"),
        ("nowhere", "not_found"),
    ],
)
def test_scim_failures(base_url: str, path: str, kind: str) -> None:
    err = fails(kind, ScimSource(f"{base_url}/{path}", TOKEN))
    assert "127.0.0.1" in str(err)


def test_scim_wrong_token(base_url: str) -> None:
    err = fails("unauthorized", ScimSource(f"{base_url}/scim", "wrong"))
    assert "check the token" in str(err)


def test_scim_timeout(base_url: str) -> None:
    err = fails("timeout", ScimSource(f"{base_url}/slow", TOKEN, timeout=0.5))
    assert "0.5 s" in str(err)


def test_unreachable_port() -> None:
    port = free_port()
    err = fails("unreachable", ScimSource(f"http://127.0.0.1:{port}", TOKEN, timeout=2))
    assert f"127.0.0.1:{port}" in str(err)


def test_scim_provision_creates_user(base_url: str, directories: Directories) -> None:
    source = ScimSource(f"{base_url}/scim", TOKEN)
    assert source.can_provision and not source.needs_upload
    created = source.provision(DirectoryUser("zoe", "zoe@example.com", "Zoe Z"))
    assert created == DirectoryUser("zoe", "zoe@example.com", "Zoe Z", True, "u8")
    assert "zoe" in [u.login for u in source.fetch()]
    with pytest.raises(SourceError) as info:
        source.provision(DirectoryUser("zoe", "zoe@example.com"))
    assert info.value.kind == "conflict"


def test_provision_with_bad_token_is_unauthorized(base_url: str) -> None:
    with pytest.raises(SourceError) as info:
        ScimSource(f"{base_url}/scim", "wrong").provision(DirectoryUser("x", "x@example.com"))
    assert info.value.kind == "unauthorized"


# -- JSON list ------------------------------------------------------------------------------------


def test_json_list_reads_pages_until_empty(base_url: str, directories: Directories) -> None:
    users = JsonListSource(f"{base_url}/json/users", TOKEN).fetch()
    assert users == [
        DirectoryUser("ann", "ann@example.com", "Ann A", True, "1"),
        DirectoryUser("bob", "bob@example.com", "Bob B", True, "2"),
        DirectoryUser("cat", "cat@example.com", None, True, "3"),
    ]
    assert len(directories.requests) == 3
    with pytest.raises(SourceError) as info:
        JsonListSource(f"{base_url}/json/users", "x").provision(users[0])
    assert info.value.kind == "unsupported"


def test_json_list_failures(base_url: str) -> None:
    err = fails("unauthorized", JsonListSource(f"{base_url}/json/users", "wrong-token-value"))
    assert "wrong-token-value" not in str(err) and "api_token" not in str(err)
    fails("malformed", JsonListSource(f"{base_url}/json-notlist/users", TOKEN))
    fails("too_large", JsonListSource(f"{base_url}/json-endless/users", TOKEN, max_pages=5))
    fails("unreachable", JsonListSource(f"http://127.0.0.1:{free_port()}/users", TOKEN, timeout=2))


# -- CSV ------------------------------------------------------------------------------------------


def test_csv_good_with_bom_and_quotes() -> None:
    data = '\ufefflogin,email,name\r\nann,ann@example.com,"Ann, the first"\n\nbob,bob@example.com,\n'.encode()
    source = CsvSource(data)
    assert source.needs_upload and not source.can_provision
    users = source.fetch()
    assert [(u.login, u.email, u.name) for u in users] == [
        ("ann", "ann@example.com", "Ann, the first"),
        ("bob", "bob@example.com", None),
    ]


def test_csv_columns_in_any_order_with_active() -> None:
    users = CsvSource("Email,Login,Active\nx@example.com,x,no\n").fetch()
    assert users == [DirectoryUser("x", "x@example.com", None, False, "line 2")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "empty"),
        ("user,mail\nann,ann@example.com\n", "Line 1"),
        ("login,email,name\nann,ann@example.com\n", "Line 2 of the CSV file has 2 fields"),
        ("login,email,name\nann,a@example.com,A\n,b@example.com,B\n", "Line 3 of the CSV file has an empty login"),
        (b"login,email\nann,a@example.com\n\xff\xfe,x\n", "Line 3 of the CSV file is not UTF-8"),
        ('login,email\n"ann"x,y\n', "Line 2 of the CSV file cannot be read"),
        ('login,email\nbob,b@example.com\n"ann,x', "cannot be read"),
    ],
)
def test_csv_bad_input(data: str | bytes, message: str) -> None:
    err = fails("malformed", CsvSource(data))
    assert message in str(err)


# -- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "url", "token", "message"),
    [
        ("ldap", "http://x", "t", "Unknown directory type"),
        ("scim", "ftp://host/scim", "t", "http:// or https://"),
        ("scim", "not a url", "t", "http:// or https://"),
        ("json", "https://host/users?api_token=1", "t", "without a query"),
        ("scim", "https://u:p@host/scim", "t", "user name or password"),
        ("scim", "https://host/scim", "", "needs a token"),
        ("scim", "https://host/scim", "a\nb", "single line"),
    ],
)
def test_config_validation(kind: str, url: str, token: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        DirectoryConfig(kind, url, token).validate()  # type: ignore[arg-type]
    assert message in str(info.value)


def test_build_source_kinds(base_url: str) -> None:
    assert isinstance(build_source("scim", f"{base_url}/scim", TOKEN), ScimSource)
    assert isinstance(build_source("json", f"{base_url}/json/users", TOKEN), JsonListSource)
    assert isinstance(build_source("csv", None, None, data="login,email\n"), CsvSource)
    assert len(build_source("scim", f" {base_url}/scim ", TOKEN).fetch()) == 7
    with pytest.raises(ConfigError):
        build_source("csv", None, None)
    assert TOKEN not in repr(DirectoryConfig("scim", "https://h/scim", TOKEN))
    assert TOKEN not in repr(ScimSource("https://h/scim", TOKEN))


HOSTILE_SCIM = ["h-listid", "h-dictid", "h-deep", "h-deepuser", "h-surrogate", "h-surrogate-email",
                "h-surrogate-name", "h-surrogate-id", "h-bigint"]
HOSTILE_JSON = ["hj-listid", "hj-deep", "hj-surrogate", "hj-surrogate-name"]


@pytest.mark.parametrize("path", HOSTILE_SCIM)
def test_hostile_scim_data_is_a_source_error(base_url: str, path: str) -> None:
    err = fails("malformed", ScimSource(f"{base_url}/{path}", TOKEN))
    assert "127.0.0.1" in str(err)


@pytest.mark.parametrize("path", HOSTILE_JSON)
def test_hostile_json_list_data_is_a_source_error(base_url: str, path: str) -> None:
    fails("malformed", JsonListSource(f"{base_url}/{path}/users", TOKEN))


@pytest.mark.parametrize("path", ["h-deep", "h-deepuser"])
def test_hostile_answer_to_provisioning_is_a_source_error(base_url: str, path: str) -> None:
    # The SCIM server answers the POST with the same hostile page: still a SourceError.
    with pytest.raises(SourceError) as info:
        ScimSource(f"{base_url}/{path}", TOKEN).provision(DirectoryUser("zoe", "zoe@example.com", "Zoe"))
    assert info.value.kind == "malformed"
