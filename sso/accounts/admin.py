"""Admin pages for users: list, search, add, edit, deactivate, reset password."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit import record
from sso.base.errors import ValidationError
from sso.base.pagination import Page, page_arg
from sso.base.access import admin_required
from .forms import ActionForm, UserForm
from .service import create_user, get_user, make_set_password_token, search_users, update_user

bp = Blueprint("users_admin", __name__, url_prefix="/admin/users")


def set_password_url(user) -> str:  # type: ignore[no-untyped-def]
    """The absolute set-password link an admin passes on to ``user``."""
    token = make_set_password_token(user)
    base = current_app.config.get("BASE_URL")
    path = url_for("accounts.set_password", token=token)
    return f"{base}{path}" if base else url_for("accounts.set_password", token=token, _external=True)


def _not_yourself(user, *, active: bool, is_admin: bool) -> None:  # type: ignore[no-untyped-def]
    """An admin cannot lock themselves out (deactivate or drop their own admin flag)."""
    if user.id == current_user.id and (not active or not is_admin):
        raise ValidationError("You cannot deactivate yourself or remove your own admin rights.")


@bp.get("/")
@admin_required
def index():  # type: ignore[no-untyped-def]
    query = request.args.get("q", "")[:200]
    number = page_arg(request.args.get("page"))
    per_page = int(current_app.config["USERS_PER_PAGE"])
    users, total = search_users(query, number, per_page)
    return render_template(
        "admin/users.html", users=users, q=query, page=Page(number, per_page, total)
    )


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():  # type: ignore[no-untyped-def]
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = create_user(
                form.login.data or "", form.email.data or "", form.name.data,
                admin=bool(form.is_admin.data), active=bool(form.active.data),
            )
        except ValidationError as err:
            return render_template("admin/user_form.html", form=form, user=None, error=err.message), 400
        record("user_created", user=user, detail={"login": user.login, "admin": user.is_admin})
        return render_template(
            "admin/password_link.html", user=user, link=set_password_url(user), created=True
        )
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=None), status


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@admin_required
def edit(user_id: int):  # type: ignore[no-untyped-def]
    user = get_user(user_id)
    form = UserForm(obj=user)
    if form.validate_on_submit():
        try:
            _not_yourself(user, active=bool(form.active.data), is_admin=bool(form.is_admin.data))
            diff = update_user(
                user, login=form.login.data, email=form.email.data, name=form.name.data,
                active=bool(form.active.data), is_admin=bool(form.is_admin.data),
            )
        except ValidationError as err:
            return render_template("admin/user_form.html", form=form, user=user, error=err.message,
                                   action_form=ActionForm()), 400
        if diff:
            record("user_changed", user=user, detail={k: f"{v[0]} -> {v[1]}" for k, v in diff.items()})
        flash("Saved.", "info")
        return redirect(url_for("users_admin.edit", user_id=user.id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=user, action_form=ActionForm()), status


@bp.post("/<int:user_id>/deactivate")
@admin_required
def deactivate(user_id: int):  # type: ignore[no-untyped-def]
    user = get_user(user_id)
    if not ActionForm().validate_on_submit():
        raise ValidationError("The form was out of date. Reload the page and try again.")
    _not_yourself(user, active=False, is_admin=user.is_admin)
    if update_user(user, active=False):
        record("user_changed", user=user, detail={"active": "True -> False"})
    flash(f"{user.login} is deactivated; their sessions have ended.", "info")
    return redirect(url_for("users_admin.edit", user_id=user.id))


@bp.post("/<int:user_id>/reset-password")
@admin_required
def reset_password(user_id: int):  # type: ignore[no-untyped-def]
    user = get_user(user_id)
    if not ActionForm().validate_on_submit():
        raise ValidationError("The form was out of date. Reload the page and try again.")
    record("password_link", user=user)
    return render_template("admin/password_link.html", user=user, link=set_password_url(user), created=False)
