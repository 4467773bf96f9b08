"""The URL helpers every sign-on protocol uses to carry a token."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, unquote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from sso.flows.protocol import add_query_parameter, escape_token
from sso.multipass import MultipassCodec


@given(st.text(max_size=300))
def test_escape_token_is_quote_with_nothing_safe(value: str) -> None:
    assert escape_token(value) == quote(value, safe="")


def test_real_tokens_survive_a_query_string() -> None:
    codec = MultipassCodec("secret")
    for _ in range(50):
        token = codec.encode({"email": "ann@example.com", "login": "ann"})
        url = add_query_parameter("https://app.example/login?next=%2Fa&multipass=old", "multipass", token)
        query = parse_qs(urlsplit(url).query)
        assert query["multipass"] == [token]
        assert query["next"] == ["/a"]
        assert "=" not in url.split("multipass=", 1)[1]
        assert unquote(escape_token(token)) == token
