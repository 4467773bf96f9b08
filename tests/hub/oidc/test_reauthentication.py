"""``prompt=login`` and ``max_age`` (OpenID Connect Core 3.1.2.1): an app may ask for a
fresh login even when the user is signed in at the hub; the ID token's ``auth_time`` then
tells it when that login happened."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import HUB_USER_PASSWORD
from tests.hub.oidc.conftest import LiveHub, query_of
from tests.hub.oidc.test_provider import exchange, start, verified_id_token


def _login_again(browser: httpx.Client, location: str) -> str:
    """Follow the hub's login page for a signed-in user; returns where the login sends them."""
    page = browser.get(location)
    assert page.status_code == 200, page.text
    assert "Sign in to continue to" in page.text and "Helpdesk" in page.text
    assert 'value="ann"' in page.text  # the signed-in user's login, filled in
    nxt = parse_qs(urlsplit(location).query)["next"][0]
    response = browser.post("/login", data={"login": "ann", "password": HUB_USER_PASSWORD, "next": nxt})
    assert response.status_code == 302
    return response.headers["location"]


def _authorize_url(hub: LiveHub, **extra: str) -> str:
    from tests.hub.oidc.conftest import pkce

    _verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": "helpdesk", "redirect_uri": "http://127.0.0.1:9/callback",
              "scope": "openid", "state": "st-1", "code_challenge": challenge, "code_challenge_method": "S256",
              **extra}
    return "/oidc/authorize?" + httpx.QueryParams(params).__str__()


def test_prompt_login_asks_a_signed_in_user_to_log_in_again(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    first = verified_id_token(live_hub, exchange(live_hub, *start(live_hub, browser))["id_token"])
    live_hub.clock.advance(90)  # type: ignore[attr-defined]
    response = browser.get(_authorize_url(live_hub, prompt="login"))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("/login?") and "again=1" in location
    back = parse_qs(urlsplit(parse_qs(urlsplit(location).query)["next"][0]).query)
    assert "prompt" not in back and back["client_id"] == ["helpdesk"]  # the way back cannot loop
    after = _login_again(browser, location)
    assert after.startswith("/oidc/authorize?")
    # Through authlib's client: prompt=login once more, then the fresh login answers it.
    code_response = browser.get(after)
    assert code_response.status_code == 302 and "code=" in code_response.headers["location"]
    live_hub.clock.advance(5)  # type: ignore[attr-defined]
    code, verifier = start(live_hub, browser)  # no prompt: no new login needed
    token = verified_id_token(live_hub, exchange(live_hub, code, verifier)["id_token"])
    assert token["auth_time"] >= first["auth_time"] + 90  # the re-login, not the first one


def test_max_age_older_than_the_login_asks_again_younger_does_not(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    login_time = int(live_hub.clock.time())  # type: ignore[attr-defined]
    live_hub.clock.advance(120)  # type: ignore[attr-defined]
    fresh_enough = browser.get(_authorize_url(live_hub, max_age="600"))
    assert fresh_enough.status_code == 302 and "code=" in fresh_enough.headers["location"]
    code, verifier = start(live_hub, browser, max_age="600")
    token = verified_id_token(live_hub, exchange(live_hub, code, verifier)["id_token"])
    assert abs(token["auth_time"] - login_time) <= 1
    too_old = browser.get(_authorize_url(live_hub, max_age="60"))
    assert too_old.status_code == 302 and too_old.headers["location"].startswith("/login?")
    after = _login_again(browser, too_old.headers["location"])
    assert "max_age" not in after
    answer = browser.get(after)
    assert "code=" in answer.headers["location"]


def test_max_age_zero_means_log_in_now(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    live_hub.clock.advance(1)  # type: ignore[attr-defined]
    response = browser.get(_authorize_url(live_hub, max_age="0"))
    assert response.headers["location"].startswith("/login?")


def test_prompt_none_with_a_too_old_login_tells_the_app(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    live_hub.clock.advance(120)  # type: ignore[attr-defined]
    response = browser.get(_authorize_url(live_hub, max_age="60", prompt="none"))
    query = query_of(response.headers["location"])
    assert query["error"] == "login_required" and query["state"] == "st-1" and query["iss"] == live_hub.url


def test_a_max_age_that_is_not_a_number_is_refused(live_hub: LiveHub) -> None:
    browser = live_hub.browser()
    for bad in ("abc", "-5", "1e3", "99999999999"):
        response = browser.get(_authorize_url(live_hub, max_age=bad))
        query = query_of(response.headers["location"])
        assert query["error"] == "invalid_request", bad
        assert "code" not in query
