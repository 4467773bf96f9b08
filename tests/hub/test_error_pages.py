"""Error pages: titled in words, with the next step a person can take; detail for admins only."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from sso.base.errors import Forbidden


def _title(page: str) -> str:
    match = re.search(r'<h1 id="error-title">([^<]*)</h1>', page)
    assert match, page
    return match.group(1)


def _links(page: str) -> list[tuple[str, str]]:
    steps = re.search(r'<ul class="next-steps">(.*?)</ul>', page, re.S)
    assert steps, page
    return [(text, href) for href, text in re.findall(r'href="([^"]*)">([^<]*)</a>', steps.group(1))]


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """The hub with two extra routes: one that crashes, one that refuses."""

    @app.get("/test-crash")
    def crash() -> str:
        raise RuntimeError("database password is hunter2")  # never shown to anybody

    @app.get("/test-refuse")
    def refuse() -> str:
        raise Forbidden("You may not open this report.")

    return app


@pytest.mark.parametrize(
    ("url", "status", "title"),
    [("/no/such/page", 404, "Page not found"), ("/test-crash", 500, "Something went wrong"),
     ("/test-refuse", 403, "Access denied")],
)
def test_titles_in_words_not_codes(failing_app, client, url: str, status: int, title: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(url)
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert _title(page) == title
    assert f"<title>{title} · Multipass SSO</title>" in page
    assert "Error " + str(status) not in page and "hunter2" not in page and "Traceback" not in page


def test_access_denied_offers_sign_in_to_a_visitor_and_the_start_page_to_a_user(failing_app, client, auth) -> None:  # type: ignore[no-untyped-def]
    visitor = client.get("/test-refuse").get_data(as_text=True)
    assert _links(visitor)[0] == ("Sign in", "/login?next=/test-refuse")
    assert "You may not open this report." in visitor
    auth.login()
    user = client.get("/test-refuse").get_data(as_text=True)
    assert [text for text, _ in _links(user)] == ["Go to the start page"]


def test_server_error_offers_to_try_again(failing_app, client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/test-crash").get_data(as_text=True)
    assert ("Try again", "/test-crash") in _links(page)
    assert "Try again in a few minutes" in page


def test_too_many_attempts_page(app, client) -> None:  # type: ignore[no-untyped-def]
    from werkzeug.exceptions import TooManyRequests

    @app.get("/test-busy")
    def busy() -> str:
        raise TooManyRequests()

    page = client.get("/test-busy").get_data(as_text=True)
    assert _title(page) == "Too many attempts" and "Wait a minute, then try again." in page


def test_details_line_for_admins_only(failing_app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    assert "admin-detail" not in client.get("/test-crash").get_data(as_text=True)
    auth.logout()
    auth.login_admin()
    page = client.get("/test-crash").get_data(as_text=True)
    assert re.search(r'class="admin-detail">.*HTTP 500, RuntimeError: see the server log', page)
    assert "hunter2" not in page  # the exception's message may hold anything: only its kind is shown
    hub_error = client.get("/admin/users/99999").get_data(as_text=True)
    assert "HTTP 404, NotFound" in hub_error


def test_expired_set_password_link_says_what_to_do(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/set-password/not-a-real-token")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert _title(page) == "This link no longer works" and "Ask an administrator for a new one" in page
