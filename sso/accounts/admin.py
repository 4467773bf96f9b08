"""Admin pages for users: list, search, add, edit, deactivate, reset password.

Thin: each view parses its form, calls one use case of :mod:`.service` and maps a
:class:`~sso.base.errors.ValidationError` to the form page with the message.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from sso.base.access import admin_required
from sso.base.errors import ValidationError
from sso.base.forms import form_error
from sso.base.pagination import page_arg

from .factors import reset_factors as factor_reset
from .forms import ActionForm, MfaPolicyForm, UserForm
from .mfa_policy import current_policy, set_policy, stored_policy, without_factor
from .models import User
from .service import (
    create_user,
    deactivate_user,
    get_user,
    issue_set_password_link,
    make_set_password_token,
    search_users,
    set_password_url,
    update_user,
)

bp = Blueprint("users_admin", __name__, url_prefix="/admin/users")


def _admin() -> User:
    user: User = current_user._get_current_object()
    return user


def _require_action_form() -> None:
    if not ActionForm().validate_on_submit():
        raise ValidationError("The form was out of date. Reload the page and try again.")


@bp.get("/")
@admin_required
def index() -> ResponseReturnValue:
    query = request.args.get("q", "")[:200]
    page = search_users(query, page_arg(request.args.get("page")), int(current_app.config["USERS_PER_PAGE"]))
    return render_template("admin/users.html", users=page.items, q=query, page=page)


WHO = {"none": "nobody", "admins": "administrators", "everyone": "everyone"}


def _asked(required: str) -> str:
    """The confirmation: who will be asked to set up a second factor at their next sign-in."""
    affected = without_factor(required)
    if required == "none":
        return "A second factor is now optional: nobody is asked to set one up."
    if not affected.count:
        return f"A second factor is now required of {WHO[required]}; all of them already have one."
    names = ", ".join(affected.logins) + (f" and {affected.count - len(affected.logins)} more"
                                           if affected.count > len(affected.logins) else "")
    users = "user" if affected.count == 1 else "users"
    return (f"A second factor is now required of {WHO[required]}. At their next sign-in, "
            f"{affected.count} {users} without one will be asked to set one up: {names}.")


@bp.route("/second-factor", methods=["GET", "POST"])
@admin_required
def mfa_policy() -> ResponseReturnValue:
    """Require a second factor of nobody, of administrators or of everyone."""
    form = MfaPolicyForm()
    error: str | None = None
    if request.method == "GET":
        form.required.data = current_policy()
    elif form.validate_on_submit():
        try:
            set_policy(form.required.data or "", actor=_admin().login)
        except ValidationError as err:
            error = form_error(form, err)
        else:
            flash(_asked(form.required.data or ""), "info")
            return redirect(url_for("users_admin.mfa_policy"))
    else:
        error = None if form.errors.get("required") else "The form was out of date. Reload the page and try again."
    policy = current_policy()
    page = render_template(
        "admin/mfa_policy.html", form=form, policy=policy, who=WHO, stored=stored_policy(),
        default=current_app.config["MFA_REQUIRED"], waiting=without_factor(policy),
        error=error,
    )
    return page, (400 if request.method == "POST" else 200)


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new() -> ResponseReturnValue:
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = create_user(
                form.login.data or "", form.email.data or "", form.name.data,
                admin=bool(form.is_admin.data), active=bool(form.active.data),
            )
        except ValidationError as err:
            return render_template("admin/user_form.html", form=form, user=None, error=form_error(form, err)), 400
        link = set_password_url(make_set_password_token(user))
        return render_template("admin/password_link.html", user=user, link=link, created=True)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=None), status


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@admin_required
def edit(user_id: int) -> ResponseReturnValue:
    user = get_user(user_id)
    form = UserForm(obj=user)
    del form.active  # (de)activation has its own buttons, and deactivating a confirm step
    if form.validate_on_submit():
        try:
            update_user(
                user, by=_admin(), login=form.login.data, email=form.email.data, name=form.name.data,
                is_admin=bool(form.is_admin.data),
            )
        except ValidationError as err:
            return render_template("admin/user_form.html", form=form, user=user, error=form_error(form, err),
                                   action_form=ActionForm()), 400
        flash("Saved.", "info")
        return redirect(url_for("users_admin.edit", user_id=user.id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=user, action_form=ActionForm()), status


@bp.route("/<int:user_id>/deactivate", methods=["GET", "POST"])
@admin_required
def deactivate(user_id: int) -> ResponseReturnValue:
    """GET: the confirm step (what deactivating does); POST: deactivate."""
    user = get_user(user_id)
    if request.method == "GET":
        return render_template("admin/confirm_deactivate.html", user=user, action_form=ActionForm())
    _require_action_form()
    deactivate_user(user, by=_admin())
    flash(f"{user.login} is deactivated; their sessions have ended.", "info")
    return redirect(url_for("users_admin.edit", user_id=user.id))


@bp.post("/<int:user_id>/reactivate")
@admin_required
def reactivate(user_id: int) -> ResponseReturnValue:
    user = get_user(user_id)
    _require_action_form()
    update_user(user, by=_admin(), active=True)
    flash(f"{user.login} is active again and can log in.", "info")
    return redirect(url_for("users_admin.edit", user_id=user.id))


@bp.post("/<int:user_id>/reset-password")
@admin_required
def reset_password(user_id: int) -> ResponseReturnValue:
    user = get_user(user_id)
    _require_action_form()
    link = set_password_url(issue_set_password_link(user, actor=_admin().login, end_password=True))
    return render_template("admin/password_link.html", user=user, link=link, created=False)


@bp.post("/<int:user_id>/reset-factors")
@admin_required
def reset_factors(user_id: int) -> ResponseReturnValue:
    """Remove every second factor of a user who lost theirs (audited as ``factors_reset``)."""
    user = get_user(user_id)
    _require_action_form()
    factor_reset(user, actor=_admin().login)
    flash(f"{user.login}'s second factors and recovery codes are removed.", "info")
    return redirect(url_for("users_admin.edit", user_id=user.id))
