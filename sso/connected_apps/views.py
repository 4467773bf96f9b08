"""Admin pages for connected apps: list, add, edit, secrets (shown once), retire.

Thin: each view parses its form, calls one use case of :mod:`.service` and maps a
:class:`~sso.base.errors.ValidationError` to the form page with the message.
"""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from sso.base.access import admin_required
from sso.base.errors import ValidationError

from .forms import AppForm, RetireForm, SecretForm
from .links import app_links
from .models import ConnectedApp
from .service import add_app, get_app, list_apps, retire_secret, set_secret, update_connected_app

bp = Blueprint("apps_admin", __name__, url_prefix="/admin/apps")


def _show_secret_once(app: ConnectedApp, plain: str, rotated: bool) -> ResponseReturnValue:
    """The one page that shows a secret in full; never cached."""
    response = make_response(render_template("admin/app_secret.html", app=app, secret=plain, rotated=rotated))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@admin_required
def index() -> ResponseReturnValue:
    return render_template("admin/apps.html", apps=list_apps(), app_links=app_links())


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new() -> ResponseReturnValue:
    form = AppForm()
    if form.validate_on_submit():
        try:
            app, plain = add_app(
                form.slug.data or "", form.name.data or "", form.login_url_template.data or "",
                form.allowed_origins.data or "", secret=form.secret.data or None,
                token_lifetime=form.token_lifetime.data or 0, enabled=bool(form.enabled.data),
                logout_url=form.logout_url.data,
            )
        except ValidationError as err:
            return render_template("admin/app_form.html", form=form, app=None, error=err.message), 400
        return _show_secret_once(app, plain, rotated=False)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/app_form.html", form=form, app=None), status


@bp.route("/<slug>", methods=["GET", "POST"])
@admin_required
def edit(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    if app.protocol == "oidc":  # its settings live with the OIDC provider's admin pages
        return redirect(url_for("oidc_admin.edit", slug=app.slug))
    form = AppForm(obj=app)
    form.slug.data = app.slug
    if request.method == "GET":
        form.allowed_origins.data = "\n".join(app.allowed_origins)
    if form.validate_on_submit():
        try:
            update_connected_app(
                app, name=form.name.data, login_url_template=form.login_url_template.data,
                allowed_origins=form.allowed_origins.data or "", token_lifetime=form.token_lifetime.data,
                enabled=bool(form.enabled.data), logout_url=form.logout_url.data or "",
            )
        except ValidationError as err:
            return _edit_page(app, form, err.message), 400
        flash("Saved.", "info")
        return redirect(url_for("apps_admin.edit", slug=app.slug))
    return _edit_page(app, form), 400 if request.method == "POST" else 200


def _edit_page(app: ConnectedApp, form: AppForm, error: str | None = None) -> str:
    return render_template(
        "admin/app_form.html", form=form, app=app, error=error,
        secret_form=SecretForm(), retire_form=RetireForm(),
    )


@bp.post("/<slug>/secret")
@admin_required
def new_secret(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    form = SecretForm()
    if not form.validate_on_submit():
        raise ValidationError("The form was out of date or the secret too long. Reload and try again.")
    had_secret = bool(app.secrets)
    try:
        plain = set_secret(app, form.secret.data or None)
    except ValidationError as err:
        return _edit_page(app, AppForm(obj=app), err.message), 400
    return _show_secret_once(app, plain, rotated=had_secret)


@bp.post("/<slug>/secrets/<int:secret_id>/retire")
@admin_required
def retire(slug: str, secret_id: int) -> ResponseReturnValue:
    app = get_app(slug)
    if not RetireForm().validate_on_submit():
        raise ValidationError("The form was out of date. Reload the page and try again.")
    retire_secret(app, secret_id)
    flash("The previous secret is retired.", "info")
    return redirect(url_for("apps_admin.edit", slug=app.slug))
