"""The account page (/account): password, second factors, sessions, apps.

Thin: each view parses its form, calls one use case and maps
:class:`~sso.base.errors.HubError` to the page with a message.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, logout_user

from sso.base.errors import HubError, NotFound, ValidationError
from sso.base.forms import form_error

from ..connected_apps.service import list_apps
from .factor_forms import ChangePasswordForm, CurrentPasswordForm, TotpEnrolForm
from .factors import (
    add_passkey,
    enrol_totp,
    factor_required,
    has_factor,
    has_totp,
    list_passkeys,
    new_totp_secret,
    regenerate_recovery_codes,
    registration_options,
    remove_passkey,
    remove_totp,
    totp_setup,
    unused_recovery_codes,
)
from .forms import ActionForm
from .login_steps import current_session_id
from .mfa_views import json_body, json_csrf, json_error, keep_challenge, take_challenge
from .models import User
from .self_service import WrongCurrentPassword, change_password, check_current_password
from .sessions import end_all_sessions, end_session, list_sessions
from .throttle import Throttled

bp = Blueprint("account", __name__, url_prefix="/account")

_TOTP_SECRET = "sso_totp_enrol"


def _me() -> User:
    user: User = current_user._get_current_object()
    return user


def _require_action_form() -> None:
    if not ActionForm().validate_on_submit():
        raise ValidationError("The form was out of date. Reload the page and try again.")


def _page(status: int = 200, **extra: object) -> ResponseReturnValue:
    user = _me()
    context = {
        "password_form": ChangePasswordForm(), "action_form": ActionForm(),
        "has_totp": has_totp(user), "passkeys": list_passkeys(user),
        "recovery_left": unused_recovery_codes(user), "required": factor_required(user),
        "sessions": list_sessions(user, current_session_id()), "apps": list_apps(enabled_only=True),
    }
    context.update(extra)
    return render_template("account/index.html", **context), status


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    return _page()


@bp.post("/password")
@login_required
def password() -> ResponseReturnValue:
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _page(400, password_form=form, error="Check the password fields.")
    try:
        login_id = change_password(_me(), form.current.data, form.password.data or "",
                                   ip=request.remote_addr or "", user_agent=request.headers.get("User-Agent"))
    except Throttled as err:
        return _page(429, password_form=form, error=err.message)
    except ValidationError as err:  # a wrong current password: under its field
        return _page(400, password_form=form, error=form_error(form, err) or "Check the password fields.")
    session["_user_id"] = login_id  # this browser stays signed in; every other session ended
    flash("Your password is changed. Your other sessions have been signed out.", "info")
    return redirect(url_for("account.index"))


@bp.route("/totp", methods=["GET", "POST"])
@login_required
def totp() -> ResponseReturnValue:
    user = _me()
    if has_totp(user):
        return redirect(url_for("account.index"))
    secret = session.get(_TOTP_SECRET)
    if not isinstance(secret, str):
        secret = session[_TOTP_SECRET] = new_totp_secret()
    form = TotpEnrolForm()
    if form.validate_on_submit():
        try:
            codes = enrol_totp(user, secret, form.code.data)
        except ValidationError as err:
            return render_template("account/totp.html", form=form, setup=totp_setup(user, secret),
                                   error=err.message), 400
        session.pop(_TOTP_SECRET, None)
        if codes:
            return render_template("account/recovery_codes.html", codes=codes, next_url=url_for("account.index"))
        flash("Your authenticator app is set up.", "info")
        return redirect(url_for("account.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("account/totp.html", form=form, setup=totp_setup(user, secret)), status


# -- changes to the second factors: each asks for the current password first ------------------


_CONFIRM = {
    "totp_remove": ("Remove the authenticator app?", "Remove the authenticator app",
                    "Sign-ins no longer ask for a code from your app."),
    "recovery_codes": ("Make new recovery codes?", "Make new recovery codes",
                       "Your current recovery codes stop working; the new ones are shown once."),
    "passkey_remove": ("Remove the passkey {name}?", "Remove the passkey",
                       "You can no longer sign in with it."),
}


def _confirm_page(step: str, form: CurrentPasswordForm, names: dict[str, str], status: int = 200,
                  error: str | None = None) -> ResponseReturnValue:
    title, button, consequence = _CONFIRM[step]
    return render_template("account/confirm_factor.html", form=form, title=title.format(**names), button=button,
                           consequence=consequence, error=error, action=request.path), status


def _password_checked(step: str, form: CurrentPasswordForm, **names: str) -> ResponseReturnValue | None:
    """None when the form came with the right current password; else the confirm page again
    (a wrong password is shown under its field, counted and audited)."""
    if request.method == "GET":
        return _confirm_page(step, form, names)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            raise ValidationError("The form was out of date. Reload the page and try again.")
        return _confirm_page(step, form, names, 400)
    try:
        check_current_password(_me(), form.current.data, ip=request.remote_addr or "", action=step)
    except Throttled as err:
        return _confirm_page(step, form, names, 429, err.message)
    except WrongCurrentPassword as err:
        form_error(form, err)  # under the password field
        return _confirm_page(step, form, names, 400)
    return None


@bp.route("/totp/remove", methods=["GET", "POST"])
@login_required
def totp_remove() -> ResponseReturnValue:
    if not has_totp(_me()):
        return redirect(url_for("account.index"))
    refused = _password_checked("totp_remove", CurrentPasswordForm())
    if refused is not None:
        return refused
    try:
        remove_totp(_me(), actor=_me().login)
    except HubError as err:
        return _page(err.status, error=err.message)
    flash("The authenticator app is removed.", "info")
    return redirect(url_for("account.index"))


@bp.route("/recovery-codes", methods=["GET", "POST"])
@login_required
def recovery_codes() -> ResponseReturnValue:
    refused = _password_checked("recovery_codes", CurrentPasswordForm())
    if refused is not None:
        return refused
    try:
        codes = regenerate_recovery_codes(_me())
    except HubError as err:
        return _page(err.status, error=err.message)
    return render_template("account/recovery_codes.html", codes=codes, next_url=url_for("account.index"))


@bp.post("/passkeys/options")
@login_required
def passkey_options() -> ResponseReturnValue:
    try:
        json_csrf()
        options, challenge = registration_options(_me())
    except HubError as err:
        return json_error(err)
    keep_challenge(challenge)
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/passkeys")
@login_required
def passkey_add() -> ResponseReturnValue:
    user = _me()
    try:
        json_csrf()
        data = json_body()
        first = not has_factor(user)
        add_passkey(user, data.get("credential"), take_challenge(), data.get("name"))
    except HubError as err:
        return json_error(err)
    if first and not unused_recovery_codes(user):
        flash("Your passkey is added. Make recovery codes below, in case you lose it.", "info")
    else:
        flash("Your passkey is added.", "info")
    return jsonify({"redirect": url_for("account.index")})


@bp.route("/passkeys/<int:passkey_id>/remove", methods=["GET", "POST"])
@login_required
def passkey_remove(passkey_id: int) -> ResponseReturnValue:
    key = next((k for k in list_passkeys(_me()) if k.id == passkey_id), None)
    if key is None:
        raise NotFound("No such passkey.")
    refused = _password_checked("passkey_remove", CurrentPasswordForm(), name=key.name)
    if refused is not None:
        return refused
    try:
        remove_passkey(_me(), passkey_id)
    except HubError as err:
        return _page(err.status, error=err.message)
    flash("The passkey is removed.", "info")
    return redirect(url_for("account.index"))


@bp.post("/sessions/<session_id>/end")
@login_required
def session_end(session_id: str) -> ResponseReturnValue:
    try:
        _require_action_form()
        end_session(_me(), session_id[:64])
    except (NotFound, ValidationError) as err:
        return _page(err.status, error=err.message)
    if session_id == current_session_id():
        logout_user()
        session.clear()
        return redirect(url_for("accounts.login"))
    flash("That session is signed out.", "info")
    return redirect(url_for("account.index"))


@bp.post("/sessions/end-all")
@login_required
def sessions_end_all() -> ResponseReturnValue:
    try:
        _require_action_form()
    except ValidationError as err:
        return _page(err.status, error=err.message)
    end_all_sessions(_me(), actor=_me().login)
    logout_user()
    session.clear()
    flash("You are signed out everywhere, here too.", "info")
    return redirect(url_for("accounts.login"))
