"""Admin pages for connected apps: list, add, edit, integration panel, staged secret rotation.

Thin: each view parses its form, calls one use case of :mod:`.service` and maps a
:class:`~sso.base.errors.HubError` to the page with the message.

A secret is shown exactly once, with post/redirect/get: the POST stores it and keeps the
plain value in the (signed) session, Fernet-encrypted under the app-secrets key and
stamped by the app's clock; the next GET of the reveal page shows it, removes it from the
session and refuses it when older than :data:`REVEAL_TTL`. A reload shows it no more and
changes nothing.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from sso.base import context
from sso.base.access import admin_required
from sso.base.errors import HubError, ValidationError
from sso.base.forms import form_error

from .forms import ActivateForm, AppForm, RetireForm, SecretForm
from .links import app_columns, app_links, integration_items
from .models import ACTIVE, ConnectedApp, fingerprint
from .service import (
    accepted_rows,
    activate_secret,
    active_secret,
    add_app,
    discard_staged_secret,
    get_app,
    list_apps,
    previous_secret,
    retire_secret,
    secret_box,
    secret_fingerprint,
    stage_secret,
    staged_secret,
    update_connected_app,
)

bp = Blueprint("apps_admin", __name__, url_prefix="/admin/apps")

REVEAL_KEY = "apps_admin.reveal"
REVEAL_TTL = 300  # seconds a secret waits in the session for its one display


def _stash_reveal(app: ConnectedApp, plain: str, kind: str) -> ResponseReturnValue:
    """Keep ``plain`` for the next GET of the reveal page and redirect there."""
    now = context.clock().time()
    session[REVEAL_KEY] = {"slug": app.slug, "kind": kind, "value": secret_box().seal(plain, now)}
    return redirect(url_for("apps_admin.reveal", slug=app.slug), code=303)


@bp.get("/<slug>/secret/shown")
@admin_required
def reveal(slug: str) -> ResponseReturnValue:
    """The one page that shows a secret in full, once; never cached."""
    app = get_app(slug)
    stash = session.pop(REVEAL_KEY, None)
    plain = None
    if isinstance(stash, dict) and stash.get("slug") == app.slug and isinstance(stash.get("value"), str):
        plain = secret_box().unseal(stash["value"], REVEAL_TTL, context.clock().time())
    if plain is None:
        flash("The secret was shown once already (or too long ago); it is not shown again. "
              "If it was not copied, stage a new one.", "info")
        return redirect(url_for("apps_admin.edit", slug=app.slug))
    response = make_response(render_template(
        "admin/app_secret.html", app=app, secret=plain, kind=stash.get("kind"), fingerprint=fingerprint(plain),
        active=active_secret(app), fingerprint_of=secret_fingerprint,
    ))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@admin_required
def index() -> ResponseReturnValue:
    return render_template("admin/apps.html", apps=list_apps(), app_links=app_links(), app_columns=app_columns())


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
                logout_url=form.logout_url.data, login_urls=form.login_urls.data or None,
            )
        except ValidationError as err:
            return render_template("admin/app_form.html", form=form, app=None, error=form_error(form, err)), 400
        return _stash_reveal(app, plain, "first")
    status = 400 if request.method == "POST" else 200
    return render_template("admin/app_form.html", form=form, app=None), status


def _settings_form(app: ConnectedApp) -> AppForm:
    """The settings form filled from the app as stored (never from another form's POST)."""
    form = AppForm(formdata=None, obj=app)
    form.allowed_origins.data = "\n".join(app.allowed_origins)
    form.login_urls.data = "\n".join(app.login_urls or [])
    return form


@bp.route("/<slug>", methods=["GET", "POST"])
@admin_required
def edit(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    if app.protocol == "oidc":  # its settings live with the OIDC provider's admin pages
        return redirect(url_for("oidc_admin.edit", slug=app.slug))
    if request.method == "GET":
        return _edit_page(app, _settings_form(app))
    form = AppForm(obj=app)
    form.slug.data = app.slug
    if form.validate_on_submit():
        try:
            update_connected_app(
                app, name=form.name.data, login_url_template=form.login_url_template.data,
                allowed_origins=form.allowed_origins.data or "", token_lifetime=form.token_lifetime.data,
                enabled=bool(form.enabled.data), logout_url=form.logout_url.data or "",
                login_urls=form.login_urls.data or "",
            )
        except ValidationError as err:
            return _edit_page(app, form, form_error(form, err)), 400
        flash("Saved.", "info")
        return redirect(url_for("apps_admin.edit", slug=app.slug))
    return _edit_page(app, form), 400


def _integration(app: ConnectedApp) -> dict[str, object]:
    """What IT configures on the app's side, as shown in the integration panel."""
    base = (current_app.config["BASE_URL"] or request.host_url).rstrip("/")
    login_url = app.login_urls[0] if app.login_urls else None
    service_url = f"{base}{url_for('flows.service_initiated', slug=app.slug)}"
    return {
        "base": base,
        "service_url": f"{service_url}?login_url={quote(login_url, safe='')}" if login_url else None,
        "service_url_template": f"{service_url}?login_url=",
        "accepted": [(row, secret_fingerprint(row)) for row in accepted_rows(app)],
        "plugin_items": [(item, item.value(app)) for item in integration_items()],  # the plugins' lines
    }


def _edit_page(app: ConnectedApp, form: AppForm, error: str | None = None,
               secret_form: SecretForm | None = None, activate_form: ActivateForm | None = None) -> str:
    staged, active, previous = staged_secret(app), active_secret(app), previous_secret(app)
    return render_template(
        "admin/app_form.html", form=form, app=app, error=error,
        secret_form=secret_form or SecretForm(formdata=None), retire_form=RetireForm(),
        activate_form=activate_form or ActivateForm(formdata=None),
        staged=staged, active=active, previous=previous, fingerprint_of=secret_fingerprint,
        integration=_integration(app), app_links=app_links(), app_columns=app_columns(), ACTIVE=ACTIVE,
    )


def _refused(app: ConnectedApp, err: HubError, **forms: object) -> ResponseReturnValue:
    """The app page as stored, with the message (the settings form is never rebuilt from
    another form's data)."""
    return _edit_page(app, _settings_form(app), err.message, **forms), err.status  # type: ignore[arg-type]


@bp.post("/<slug>/secret")
@admin_required
def new_secret(slug: str) -> ResponseReturnValue:
    """Stage a next secret (or set the first one); the secret is shown on the next GET."""
    app = get_app(slug)
    form = SecretForm()
    if not form.validate_on_submit():
        return _refused(app, ValidationError("The form was out of date or the secret too long. Reload and try again."))
    try:
        row, plain = stage_secret(app, form.secret.data or None)
    except HubError as err:
        return _refused(app, err)
    return _stash_reveal(app, plain, "first" if row.state == ACTIVE else "staged")


@bp.post("/<slug>/secret/activate")
@admin_required
def activate(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    form = ActivateForm()
    if not form.validate_on_submit():
        message = form.confirm.errors[0] if form.confirm.errors else "The form was out of date. Reload and try again."
        return _refused(app, ValidationError(str(message)), activate_form=form)
    try:
        row = activate_secret(app)
    except HubError as err:
        return _refused(app, err)
    flash(f"The hub issues with {secret_fingerprint(row)} from now on. The previous secret stays listed: "
          "retire it once the app no longer accepts it.", "info")
    return redirect(url_for("apps_admin.edit", slug=app.slug))


@bp.post("/<slug>/secret/retire")
@admin_required
def retire(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    if not RetireForm().validate_on_submit():
        return _refused(app, ValidationError("The form was out of date. Reload the page and try again."))
    try:
        retire_secret(app)
    except HubError as err:
        return _refused(app, err)
    flash("The previous secret is retired. Remove it from the app's settings too.", "info")
    return redirect(url_for("apps_admin.edit", slug=app.slug))


@bp.post("/<slug>/secret/discard")
@admin_required
def discard(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    if not RetireForm().validate_on_submit():
        return _refused(app, ValidationError("The form was out of date. Reload the page and try again."))
    try:
        discard_staged_secret(app)
    except HubError as err:
        return _refused(app, err)
    flash("The staged secret is discarded. Remove it from the app if you added it there.", "info")
    return redirect(url_for("apps_admin.edit", slug=app.slug))
