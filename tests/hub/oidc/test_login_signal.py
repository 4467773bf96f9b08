"""The provider stamps ``auth_time`` on its own hub's logins only: another Flask app in the
same process (the reference app, a test client) that uses flask-login must not reach it."""

from __future__ import annotations

from flask import Flask
from flask_login import LoginManager, UserMixin, login_user


class _Someone(UserMixin):
    id = "1"


def test_a_login_in_another_flask_app_does_not_reach_the_hub_receiver(app) -> None:  # type: ignore[no-untyped-def]
    other = Flask("not_a_hub")
    other.secret_key = "x" * 32
    LoginManager(other).user_loader(lambda _id: _Someone())

    @other.get("/in")
    def sign_in() -> str:
        login_user(_Someone())
        return "in"

    response = other.test_client().get("/in")
    assert response.status_code == 200 and response.get_data(as_text=True) == "in"
