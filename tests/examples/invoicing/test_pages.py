"""The invoicing pages, the top menu, error pages and the health check."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from examples.invoicing.demo import seed_demo

from .conftest import HUB_URL, csrf_token

Token = Callable[..., str]


def test_invoices_page_shows_the_user_the_menu_and_the_invoices(app: Flask, client: FlaskClient, token: Token) -> None:
    seed_demo(app)
    client.get("/login?multipass=" + token())
    for path in ("/", "/invoices"):
        page = client.get(path).get_data(as_text=True)
        assert "InvoiceOcean-like Invoicing" in page
        assert f'href="{HUB_URL}/"' in page and ">CRM<" in page
        assert 'id="current-user">ann<' in page and "Ann Archer" in page
        assert "Signed in as <strong>ann</strong>" in page
        assert "FV/2025/0002" in page and "Globex Corporation" in page and "899.00" in page
        assert 'action="/logout"' in page and 'name="csrf_token"' in page


def test_new_invoice_form(app: Flask, client: FlaskClient, token: Token) -> None:
    client.get("/login?multipass=" + token())
    assert client.post("/invoices/new", data={"client": "Acme", "amount": "12.50"}).status_code == 400  # no CSRF
    form_token = csrf_token(client, "/invoices/new")
    bad = client.post("/invoices/new", data={"csrf_token": form_token, "client": "", "amount": "-3"})
    assert bad.status_code == 400 and "This field is required" in bad.get_data(as_text=True)
    good = client.post("/invoices/new", data={"csrf_token": form_token, "client": "<b>Acme</b>", "amount": "12.50"})
    assert good.status_code == 302
    page = client.get("/invoices").get_data(as_text=True)
    assert "&lt;b&gt;Acme&lt;/b&gt;" in page and "12.50" in page and "created" in page


def test_pages_need_login(client: FlaskClient) -> None:
    for path in ("/", "/invoices", "/invoices/new"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.startswith("/login?return_to=")


def test_unknown_page_is_a_short_404_page(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "404 Not Found" in response.get_data(as_text=True)
    assert client.delete("/invoices").status_code == 405


def test_oversized_request_is_refused(client: FlaskClient) -> None:
    assert client.post("/logout", data="x" * (2 * 1024 * 1024), content_type="text/plain").status_code == 413


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok\n"
