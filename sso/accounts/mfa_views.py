"""The second step of signing in (code or passkey), enrolment when a factor is required,
passwordless sign-in with a passkey, and the forgot-password page.

Thin: each view parses input, calls a use case of :mod:`.factors` or :mod:`.self_service`
and maps :class:`~sso.base.errors.HubError` to a page (or a JSON answer for the passkey
ceremonies, which run in the browser's script)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from sso.base import context
from sso.base.errors import HubError, ValidationError

from .factor_forms import CodeForm, ForgotPasswordForm, TotpEnrolForm
from .factors import (
    FactorFailed,
    add_passkey,
    authentication_options,
    check_code,
    check_passkey,
    enrol_totp,
    has_factor,
    has_totp,
    list_passkeys,
    new_totp_secret,
    registration_options,
    totp_setup,
)
from .forms import ActionForm
from .login_steps import PENDING_KEY, finish_second_step, pending, sign_in
from .mail import mailer
from .models import User
from .self_service import request_password_reset
from .service import login_throttle
from .throttle import Throttled

bp = Blueprint("mfa", __name__)

_CHALLENGE = "sso_webauthn_challenge"
CHALLENGE_SECONDS = 300


def json_csrf() -> None:
    """The passkey endpoints take JSON: the CSRF token comes as its ``csrf_token`` member
    (Flask-WTF reads a JSON body as the form)."""
    if not ActionForm().validate_on_submit():
        raise ValidationError("The page was out of date. Reload it and try again.")


def json_error(err: HubError, status: int | None = None) -> ResponseReturnValue:
    return jsonify({"error": err.message}), status or err.status


def json_body() -> dict[str, Any]:
    """The WebAuthn data a ceremony posted: JSON text in the form field ``payload`` (the hub
    accepts form bodies only, see :func:`sso.security.refuse_non_form_bodies`)."""
    try:
        data = json.loads(request.form.get("payload", ""))
    except ValueError as err:
        raise ValidationError("Expected a JSON object.") from err
    if not isinstance(data, dict):
        raise ValidationError("Expected a JSON object.")
    return data


def keep_challenge(challenge: str) -> None:
    """Remember a WebAuthn challenge in the (signed) session cookie, with its time."""
    session[_CHALLENGE] = {"c": challenge, "t": context.clock().time()}


def take_challenge() -> str:
    """The challenge of this browser's ceremony, once: a copy of an old cookie cannot bring
    it back (each challenge is claimed in the shared throttle store), and it lasts
    :data:`CHALLENGE_SECONDS`. Raises FactorFailed otherwise."""
    kept = session.pop(_CHALLENGE, None)
    if not isinstance(kept, dict) or not isinstance(kept.get("c"), str):
        raise FactorFailed()
    if context.clock().time() - float(kept.get("t", 0)) > CHALLENGE_SECONDS:
        raise FactorFailed()
    if not login_throttle().claim_once("webauthn:" + kept["c"], CHALLENGE_SECONDS * 2):
        raise FactorFailed()
    return str(kept["c"])


def _factor_keys(user: User) -> list[str]:
    # Not the password's account counter: a correct password clears that one, and it must
    # not reset the count of wrong codes.
    return [f"factor:{user.id}"]


def _ip() -> str:
    return request.remote_addr or ""


def _finish(user: User, kind: str) -> str:
    found = pending()
    target = found[1]["next"] if found is not None else url_for("portal.home")
    finish_second_step(user, kind)
    return str(target)


@bp.route("/login/verify", methods=["GET", "POST"])
def verify() -> ResponseReturnValue:
    """Second step: a code from the authenticator app, a recovery code, or a passkey."""
    found = pending()
    if found is None:
        return redirect(url_for("accounts.login"))
    user, state = found
    if state.get("enrol") and not has_factor(user):
        return redirect(url_for("mfa.setup"))
    form = CodeForm()
    if request.method == "GET":
        return render_template("account/verify.html", form=form, **_methods(user))
    if not form.validate_on_submit():
        return render_template("account/verify.html", form=form, **_methods(user),
                               error="Enter the code."), 400
    throttle = login_throttle()
    keys = _factor_keys(user)
    try:
        throttle.check(_ip(), keys)
        kind = check_code(user, form.code.data)
    except Throttled as err:
        page = render_template("account/verify.html", form=form, **_methods(user), error=err.message)
        return page, 429, {"Retry-After": str(err.retry_after)}
    except FactorFailed as err:
        throttle.failed(_ip(), keys)
        return render_template("account/verify.html", form=form, **_methods(user),
                               error=err.message), 401
    throttle.succeeded(_ip(), keys)
    return redirect(_finish(user, kind))


def _methods(user: User) -> dict[str, bool]:
    """Which ways of passing the second step the page offers."""
    return {"has_passkeys": bool(list_passkeys(user)), "has_totp": has_totp(user)}


@bp.post("/login/verify/passkey/options")
def verify_passkey_options() -> ResponseReturnValue:
    found = pending()
    if found is None:
        return jsonify({"error": "Your sign-in has expired. Start again."}), 401
    try:
        json_csrf()
    except ValidationError as err:
        return json_error(err)
    options, challenge = authentication_options(found[0])
    keep_challenge(challenge)
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/login/verify/passkey")
def verify_passkey() -> ResponseReturnValue:
    found = pending()
    if found is None:
        return jsonify({"error": "Your sign-in has expired. Start again."}), 401
    user = found[0]
    throttle = login_throttle()
    keys = _factor_keys(user)
    try:
        json_csrf()
        throttle.check(_ip(), keys)
        check_passkey(user, json_body().get("credential"), take_challenge())
    except FactorFailed as err:
        throttle.failed(_ip(), keys)
        return json_error(err)
    except HubError as err:
        return json_error(err)
    throttle.succeeded(_ip(), keys)
    return jsonify({"redirect": _finish(user, "passkey")})


@bp.post("/login/passkey/options")
def passkey_options() -> ResponseReturnValue:
    """Passwordless sign-in, step one: a challenge for any passkey of this site."""
    try:
        json_csrf()
    except ValidationError as err:
        return json_error(err)
    options, challenge = authentication_options(None)
    keep_challenge(challenge)
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/login/passkey")
def passkey_login() -> ResponseReturnValue:
    """Passwordless sign-in, step two: a passkey with user verification signs its owner in
    (it is something they have and something they know or are); throttled per IP."""
    throttle = login_throttle()
    try:
        json_csrf()
        throttle.check(_ip(), [])
        data = json_body()
        user = check_passkey(None, data.get("credential"), take_challenge())
    except FactorFailed as err:
        throttle.failed(_ip(), [])
        return json_error(err)
    except HubError as err:
        return json_error(err)
    target = _safe_next(data.get("next"))
    sign_in(user)
    return jsonify({"redirect": target})


def _safe_next(value: object) -> str:
    from sso.base.redirects import safe_return_to

    return safe_return_to(value if isinstance(value, str) else None, ()) or url_for("portal.home")


@bp.route("/login/setup", methods=["GET", "POST"])
def setup() -> ResponseReturnValue:
    """A second factor is required and the user has none: set one up now, then sign in."""
    found = pending()
    if found is None:
        return redirect(url_for("accounts.login"))
    user, state = found
    if has_factor(user):
        return redirect(url_for("mfa.verify"))
    secret = state.get("secret")
    if not isinstance(secret, str):
        secret = new_totp_secret()
        state["secret"] = secret
        session[PENDING_KEY] = state
    form = TotpEnrolForm()
    if form.validate_on_submit():
        try:
            codes = enrol_totp(user, secret, form.code.data)
        except ValidationError as err:
            return render_template("account/setup.html", form=form, setup=totp_setup(user, secret),
                                   error=err.message), 400
        target = _finish(user, "totp_enrolled")
        return render_template("account/recovery_codes.html", codes=codes or [], next_url=target)
    status = 400 if request.method == "POST" else 200
    return render_template("account/setup.html", form=form, setup=totp_setup(user, secret)), status


@bp.post("/login/setup/passkey/options")
def setup_passkey_options() -> ResponseReturnValue:
    found = pending()
    if found is None or has_factor(found[0]):
        return jsonify({"error": "Your sign-in has expired. Start again."}), 401
    try:
        json_csrf()
        options, challenge = registration_options(found[0])
    except HubError as err:
        return json_error(err)
    keep_challenge(challenge)
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/login/setup/passkey")
def setup_passkey() -> ResponseReturnValue:
    found = pending()
    if found is None or has_factor(found[0]):
        return jsonify({"error": "Your sign-in has expired. Start again."}), 401
    user = found[0]
    try:
        json_csrf()
        data = json_body()
        add_passkey(user, data.get("credential"), take_challenge(), data.get("name"))
    except HubError as err:
        return json_error(err)
    return jsonify({"redirect": _finish(user, "passkey_enrolled")})


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    """Ask for a set-password mail. The answer is the same whether or not the address
    belongs to an account (and whether or not it is active)."""
    form = ForgotPasswordForm()
    mail_on = mailer() is not None
    if request.method == "GET" or not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("account/forgot.html", form=form, mail_on=mail_on), status
    try:
        request_password_reset(form.email.data, ip=_ip())
    except Throttled as err:
        page = render_template("account/forgot.html", form=form, mail_on=mail_on, error=err.message)
        return page, 429, {"Retry-After": str(err.retry_after)}
    return render_template("account/forgot_sent.html", mail_on=mail_on)
