"""Login, logout and set-password pages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user
from werkzeug.exceptions import HTTPException

from sso.base.errors import NotFound, ValidationError
from sso.base.extensions import login_manager
from sso.base.forms import form_error
from sso.base.redirects import origin_of, safe_return_to

from ..connected_apps.service import get_app, list_apps
from .forms import LoginForm, LogoutForm, SetPasswordForm
from .login_steps import begin_second_step, current_session_id, needs_second_step, sign_in
from .models import User
from .service import (
    LoginFailed,
    check_set_password_token,
    log_in,
    log_out,
    use_set_password_token,
)
from .sessions import load_session_user
from .throttle import Throttled

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """flask-login loader: ``"<id>.<session nonce>.<session id>"``; a changed nonce ends
    every session of the user, a deleted session row this one (:mod:`.sessions`)."""
    found = load_session_user(user_id)
    return found[0] if found is not None else None


def _next_target(value: str | None) -> str:
    return safe_return_to(value, ()) or url_for("portal.home")


#: The hub's pages that send a signed-in user on to a connected app (``/sso/jump/<slug>``,
#: ``/sso/multipass/<slug>``): a login on the way there names the app.
_TO_APP_ENDPOINTS = frozenset({"flows.jump", "flows.service_initiated"})


def destination_app_name(next_value: str | None) -> str | None:
    """The name of the enabled connected app that ``next`` leads to after login, if any."""
    target = safe_return_to(next_value, ())
    if not target:
        return None
    try:
        endpoint, args = current_app.url_map.bind("localhost").match(urlsplit(target).path, method="GET")
    except HTTPException:
        return None
    if endpoint == "oidc.authorize":  # an OpenID Connect app's sign-in request names it as client_id
        args = {"slug": parse_qs(urlsplit(target).query).get("client_id", [""])[0]}
    elif endpoint not in _TO_APP_ENDPOINTS:
        return None
    if not args.get("slug"):
        return None
    try:
        app = get_app(str(args["slug"]))
    except NotFound:
        return None
    return app.name if app.enabled else None


def _login_page(form: LoginForm, error: str | None = None, title: str | None = None) -> str:
    return render_template("accounts/login.html", form=form, error=error, title=title,
                           app_name=destination_app_name(form.next.data))


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Login with login or e-mail; one generic message for every failure.

    Arriving from a connected app (``next`` is its jump or service-initiated URL), the page
    says which app the user is going to."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_user.is_authenticated and not request.args.get("again"):
            return redirect(_next_target(form.next.data))
        if current_user.is_authenticated:  # an app asked for a fresh login (OIDC prompt=login, max_age)
            form.login.data = current_user.login
        return _login_page(form)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            return _login_page(form, "The form was out of date. Please try again."), 400
        return _login_page(form), 400  # the empty fields say so, each under itself
    try:
        user = log_in(form.login.data or "", form.password.data or "", ip=request.remote_addr or "")
    except Throttled as err:
        page = _login_page(form, err.message, title="Too many attempts")
        return page, 429, {"Retry-After": str(err.retry_after)}
    except LoginFailed as err:
        return _login_page(form, err.message), 401
    target = _next_target(form.next.data)
    if needs_second_step(user):
        begin_second_step(user, target)
        return redirect(url_for("mfa.verify"))
    sign_in(user)
    return redirect(target)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the hub session and ask each connected app to end its own (front-channel).

    Guaranteed: the hub session ends at once and for good. The session cookie is cleared
    and the session's server-side record is deleted, so this browser's session (and any
    copy of its cookie) stops working; no new token can be issued from it without logging
    in again. The user's other sessions stay (the account page ends them, one or all).
    Tokens already issued stay valid until used or expired (their lifetime, 15 minutes
    by default; each is single use).

    Best effort only: the "signed out" page loads each enabled app's registered
    ``logout_url`` in a hidden iframe. Whether the app's session ends depends on the
    browser sending the app's cookie in that frame (SameSite=Lax cookies are sent only
    when hub and app are same-site; third-party cookie blocking may drop them), on the
    app's logout URL accepting a GET, and on the page being loaded at all. The hub does
    not learn whether it worked.
    """
    form = LogoutForm()
    if not form.validate_on_submit():
        raise ValidationError("The logout form was out of date. Reload the page and try again.")
    apps = []
    if current_user.is_authenticated:
        log_out(current_user._get_current_object(), current_session_id())
        apps = [a for a in list_apps(enabled_only=True) if a.logout_url]
    logout_user()
    session.clear()
    g.frame_origins = sorted({_origin(a.logout_url) for a in apps})
    return render_template("accounts/signed_out.html", apps=apps)


def _origin(url: str | None) -> str:
    return (origin_of(url) if url else None) or "'none'"


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str) -> ResponseReturnValue:
    """Choose a password through a set-password link (single use, expiring)."""
    user = check_set_password_token(token)  # InvalidSetPasswordLink: the error page says what to do
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            use_set_password_token(token, form.password.data or "")
        except ValidationError as err:
            return render_template(
                "accounts/set_password.html", form=form, user=user, error=form_error(form, err)
            ), 400
        flash("Your password is set. You can log in now.", "info")
        return redirect(url_for("accounts.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/set_password.html", form=form, user=user), status
