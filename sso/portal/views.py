"""Home page after login, and the menu data every template receives."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ..accounts.forms import LogoutForm
from ..connected_apps.service import list_apps
from ..groups import visible_apps

bp = Blueprint("portal", __name__)


@bp.get("/")
@login_required
def home() -> ResponseReturnValue:
    """One button per enabled connected app."""
    return render_template("portal/home.html")


def menu_context() -> dict[str, Any]:
    """Template context for the top menu: the enabled apps the logged-in user may open
    (open to everyone, or to one of the user's groups)."""
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        return {"menu_apps": visible_apps(user, list_apps(enabled_only=True)), "logout_form": LogoutForm()}
    return {"menu_apps": [], "logout_form": None}


def init_app(app: Flask) -> None:
    app.context_processor(menu_context)
