"""The pairing page of each connected app, its exports and its fix buttons (admins only).

Thin: each view parses the request, calls :mod:`user_pairing.service` and maps its errors
to a message. A failing source never gives a 500: the page shows the error next to the
last good snapshot.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from sso.base.access import admin_required
from sso.base.errors import HubError, ValidationError
from sso.base.forms import form_error
from sso.base.pagination import Page, page_arg
from sso.connected_apps.models import ConnectedApp
from sso.connected_apps.service import get_app

from . import display, service
from .errors import ConfigError, FixError, SourceError
from .forms import DepartmentForm, DirectoryForm, FixForm, RefreshForm
from .matching import Status, counts

bp = Blueprint("pairing", __name__, url_prefix="/admin/pairing")
DEFAULT_PER_PAGE = 50
MAX_UPLOAD = 16 * 1024 * 1024


@bp.app_template_filter("visible")
def _visible(value: str | None, limit: int = 80) -> str:
    return display.visible(value, limit)


@bp.app_template_filter("user_key")
def _user_key(user) -> str:
    return service.user_key(user)


@bp.app_template_filter("raw_value")
def _raw(value: str | None) -> str:
    return display.raw(value)


def _back(slug: str) -> Response:
    return redirect(url_for("pairing.page", slug=slug))  # type: ignore[return-value]


@bp.get("/<slug>")
@admin_required
def page(slug: str) -> ResponseReturnValue:
    return _page(get_app(slug))


def _page(app: ConnectedApp, directory_form: DirectoryForm | None = None, error: str | None = None) -> str:
    """The pairing page; ``directory_form`` carries field errors from a failed save."""
    result = service.full_report(app)
    status = display.parse_status(request.args.get("status"))
    query = request.args.get("q", "")[: display.MAX_QUERY]
    departments = service.department_index(app, result.snapshot)
    dept_mismatches = departments.mismatches(result.rows) if departments.app_groups is not None else []
    dept_filter = request.args.get("dept") == "mismatch"
    chosen = display.select_rows(dept_mismatches if dept_filter else result.rows, status, query)
    per_page = int(current_app.config["PAIRING_PER_PAGE"])
    number = page_arg(request.args.get("page"))
    pager = Page(number, per_page, len(chosen))
    number = min(number, pager.pages)
    pager = Page(number, per_page, len(chosen))
    setting = service.get_directory(app)
    form = directory_form or DirectoryForm(kind=setting.kind if setting else "scim", url=setting.url if setting else "")
    return render_template(
        "pairing/page.html",
        app=app,
        rows=[(row, departments.of(row)) for row in chosen[(number - 1) * per_page : number * per_page]],
        dept=dept_filter,
        dept_count=len(dept_mismatches),
        app_groups_known=departments.app_groups is not None,
        counts=counts(result.rows),
        total=len(result.rows),
        statuses=list(Status),
        status=status.value if status else "",
        q=query,
        page=pager,
        snapshot=result.snapshot,
        setting=setting,
        can_provision=service.can_provision(app),
        directory_form=form,
        refresh_form=RefreshForm(),
        fix_form=FixForm(),
        error=error,
        department_form=DepartmentForm(),
    )


@bp.get("/<slug>.json")
@admin_required
def export_json(slug: str) -> Response:
    app = get_app(slug)
    rows = display.select_rows(service.report(app), display.parse_status(request.args.get("status")))
    return _download(display.to_json(rows), "application/json", f"pairing-{app.slug}.json")


@bp.get("/<slug>.csv")
@admin_required
def export_csv(slug: str) -> Response:
    app = get_app(slug)
    rows = display.select_rows(service.report(app), display.parse_status(request.args.get("status")))
    return _download(display.to_csv(rows), "text/csv; charset=utf-8", f"pairing-{app.slug}.csv")


def _download(body: str, mimetype: str, filename: str) -> Response:
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/<slug>/directory")
@admin_required
def directory(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    form = DirectoryForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            raise ValidationError("The directory form was out of date. Reload and try again.")
        return _page(app, form, "Directory not saved: check the fields marked below."), 400
    try:
        service.set_directory(app, form.kind.data or "", form.url.data, form.token.data)
    except ConfigError as err:
        banner = form_error(form, err)
        return _page(app, form, f"Directory not saved: {banner or 'check the fields marked below.'}"), 400
    flash("Directory saved. Refresh the snapshot to fetch the users.", "info")
    return _back(app.slug)


@bp.post("/<slug>/refresh")
@admin_required
def refresh(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    form = RefreshForm()
    if not form.validate_on_submit():
        raise ValidationError("The refresh form was out of date. Reload the page and try again.")
    upload = request.files.get("file")
    data = upload.read(MAX_UPLOAD + 1) if upload and upload.filename else None
    if data is not None and len(data) > MAX_UPLOAD:
        flash("The CSV file is too large (at most 16 MB).", "error")
        return _back(app.slug)
    try:
        snapshot = service.refresh(app, data=data)
    except (ConfigError, SourceError) as err:
        flash(f"Refresh failed: {err}", "error")
        return _back(app.slug)
    flash(f"Snapshot refreshed: {snapshot.user_count} users in {app.name}.", "info")
    return _back(app.slug)


@bp.post("/<slug>/create-in-app")
@admin_required
def create_in_app(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    form = FixForm()
    if not form.validate_on_submit():
        raise ValidationError("The form was out of date. Reload the page and try again.")
    try:
        created = service.create_in_app(app, key=form.key.data or "")
    except (ConfigError, SourceError, FixError) as err:
        flash(f"Not created in {app.name}: {err}", "error")
        return _back(app.slug)
    ref = f" (id {display.visible(created.ref, 40)})" if created.ref else ""
    flash(
        f"Created {display.visible(created.login)} ({display.visible(created.email)}) in {app.name}{ref}. "
        "Refresh the snapshot to see the account paired.",
        "info",
    )
    return _back(app.slug)


@bp.post("/<slug>/create-in-hub")
@admin_required
def create_in_hub(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    form = FixForm()
    if not form.validate_on_submit():
        raise ValidationError("The form was out of date. Reload the page and try again.")
    try:
        user, link = service.create_in_hub(app, key=form.key.data or "")
    except (FixError, ValidationError) as err:
        flash(f"Not created in the hub: {err}", "error")
        return _back(app.slug)
    response = make_response(render_template("pairing/created_in_hub.html", app=app, user=user, link=link))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<slug>/department")
@admin_required
def department(slug: str) -> ResponseReturnValue:
    """Without ``confirm``: the confirmation page with the exact change of each fix.
    With ``confirm=1`` and ``side`` (``app`` or ``hub``): make the change."""
    app = get_app(slug)
    form = DepartmentForm()
    if not form.validate_on_submit():
        raise ValidationError("The form was out of date. Reload the page and try again.")
    key = form.key.data or ""
    if form.confirm.data != "1":
        try:
            change = service.department_change(app, key)
        except FixError as err:
            flash(str(err), "error")
            return _back(app.slug)
        return render_template(
            "pairing/department_confirm.html", app=app, change=change, key=key,
            can_change_app=service.can_provision(app), form=DepartmentForm(formdata=None),
        )
    try:
        change = service.fix_department(app, key, form.side.data or "")
    except (ConfigError, SourceError, FixError, HubError) as err:
        flash(f"Departments not changed: {err}", "error")
        return _back(app.slug)
    row = change.row
    assert row.hub is not None and row.app is not None
    where = app.name if form.side.data == "app" else "the hub"
    flash(f"Departments of {display.visible(row.hub.login)} changed in {where}.", "info")
    return _back(app.slug)
