"""Home page after login, the branding every page shows, and the menu data every template receives."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, render_template, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ..accounts.forms import LogoutForm
from ..connected_apps.service import list_apps
from ..groups import visible_apps

bp = Blueprint("portal", __name__)

#: The logo is the operator's file, served as an image only: no script in an SVG may run,
#: and the page cannot be framed or sniffed into something else.
LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@bp.get("/")
@login_required
def home() -> ResponseReturnValue:
    """One button per enabled connected app."""
    return render_template("portal/home.html")


@bp.get("/brand/logo")
def brand_logo() -> ResponseReturnValue:
    """The operator's logo (``SSO_BRAND_LOGO``, checked at start-up); 404 when none is set."""
    path = current_app.config["BRAND_LOGO"]
    if not path:
        abort(404)
    response: Response = send_file(path, max_age=3600)
    response.headers["Content-Security-Policy"] = LOGO_CSP
    return response


def brand_context() -> dict[str, Any]:
    """The hub's name and logo, for every page (error pages too: no database needed)."""
    config = current_app.config
    return {
        "brand_name": config["BRAND_NAME"],
        "brand_logo": url_for("portal.brand_logo") if config["BRAND_LOGO"] else None,
    }


def menu_context() -> dict[str, Any]:
    """Template context for the top menu: the enabled apps the logged-in user may open
    (open to everyone, or to one of the user's groups)."""
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        return {"menu_apps": visible_apps(user, list_apps(enabled_only=True)), "logout_form": LogoutForm()}
    return {"menu_apps": [], "logout_form": None}


def init_app(app: Flask) -> None:
    app.context_processor(brand_context)
    app.context_processor(menu_context)
