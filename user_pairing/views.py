"""The pairing page of each connected app, its exports and its fix buttons (admins only).

Thin: each view parses the request, calls :mod:`user_pairing.service` and maps its errors
to a message. A failing source never gives a 500: the page shows the error next to the
last good snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, Response, current_app, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from sso.base.access import admin_required
from sso.base.errors import HubError, ValidationError
from sso.base.forms import form_error
from sso.base.pagination import Page, page_arg
from sso.connected_apps.models import ConnectedApp
from sso.connected_apps.service import get_app

from . import display, provisioning, service
from .errors import ConfigError, FixError, SourceError
from .forms import ConfirmForm, DepartmentForm, DirectoryForm, FixForm, RefreshForm, RetryForm
from .matching import DirectoryUser, PairingRow, Status, counts

bp = Blueprint("pairing", __name__, url_prefix="/admin/pairing")
MAX_UPLOAD = 16 * 1024 * 1024
OUT_OF_DATE = "The form was out of date. Reload the page and try again."
T = TypeVar("T")


@bp.app_template_filter("visible")
def _visible(value: str | None, limit: int = 80) -> str:
    return display.visible(value, limit)


@bp.app_template_filter("user_key")
def _user_key(user) -> str:
    return service.user_key(user)


@bp.app_template_filter("row_key")
def _row_key(row) -> str:
    return service.row_key(row)


@bp.app_template_filter("raw_value")
def _raw(value: str | None) -> str:
    return display.raw(value)


def _back(slug: str) -> ResponseReturnValue:
    return redirect(url_for("pairing.page", slug=slug))


def _fix_step(
    app: ConnectedApp,
    work: Callable[[], T],
    then: Callable[[T], ResponseReturnValue],
    *,
    form: FlaskForm | None = None,
    errors: tuple[type[Exception], ...] = (FixError,),
    failed: str = "",
) -> ResponseReturnValue:
    """One step of a fix (plan it, confirm it or make it), the same way for every fix.

    ``form`` (when the step is a POST) must carry a valid CSRF token and fields, else a
    400 "out of date" page. Then ``work`` calls the service and ``then`` turns its result
    into the page; an expected error (``errors``) is flashed after ``failed`` and the admin
    goes back to the pairing page with nothing changed.
    """
    if form is not None and not form.validate_on_submit():
        raise ValidationError(OUT_OF_DATE)
    try:
        result = work()
    except errors as err:
        flash(f"{failed}{err}", "error")
        return _back(app.slug)
    return then(result)


def _done(app: ConnectedApp, message: str) -> ResponseReturnValue:
    flash(message, "info")
    return _back(app.slug)


def _no_store(body: str) -> Response:
    response = make_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<slug>")
@admin_required
def page(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    snapshot = service.get_snapshot(app)
    if service.snapshot_is_old(snapshot) and not service.refresh_running(snapshot):
        service.start_background_refresh(app, actor=_actor())
    return _page(app)


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
        ready=result.ready,
        refreshing=service.refresh_running(result.snapshot),
        setting=setting,
        can_provision=service.can_provision(app),
        fixes=service.FIXES,
        bulk_actions={s.value: actions for s, actions in service.FIXES.items()},
        fix_labels=service.FIX_LABELS,
        provisioning=provisioning.app_status(app),
        directory_form=form,
        refresh_form=RefreshForm(),
        fix_form=FixForm(),
        error=error,
        department_form=DepartmentForm(),
        retry_form=RetryForm(),
    )


def _actor() -> str | None:
    from flask_login import current_user

    return getattr(current_user, "login", None)


@bp.get("/<slug>/progress.json")
@admin_required
def progress(slug: str) -> Response:
    """How far the background refresh got (polled by the page while one runs)."""
    app = get_app(slug)
    snapshot = service.get_snapshot(app)
    body = {
        "running": service.refresh_running(snapshot),
        "done": snapshot.refresh_done if snapshot else 0,
        "total": snapshot.refresh_total if snapshot else None,
        "version": snapshot.version if snapshot else 0,
    }
    response = make_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<slug>/fix")
@admin_required
def confirm_fix(slug: str) -> ResponseReturnValue:
    """The confirmation of one fix: exactly what will change, where."""
    app = get_app(slug)
    action = request.args.get("action", "")[:32]
    key = request.args.get("key", "")[:80]
    return _fix_step(
        app, lambda: service.plan_fixes(app, action, [key]), lambda fixes: _confirm_page(app, action, fixes, len(fixes))
    )


@bp.get("/<slug>/bulk")
@admin_required
def confirm_bulk(slug: str) -> ResponseReturnValue:
    """The confirmation of one fix on every row of the current filter and search."""
    app = get_app(slug)
    action = request.args.get("action", "")[:32]
    status = display.parse_status(request.args.get("status"))
    query = request.args.get("q", "")[: display.MAX_QUERY]

    def confirm(planned: tuple[list[service.PlannedFix], int]) -> ResponseReturnValue:
        fixes, total = planned
        if not fixes:
            return _done(app, "No row of this selection can be fixed that way.")
        return _confirm_page(app, action, fixes, total, status=status.value if status else "", q=query)

    return _fix_step(app, lambda: service.plan_bulk(app, action, status, query), confirm)


def _confirm_page(
    app: ConnectedApp, action: str, fixes: list[service.PlannedFix], total: int, **back: str
) -> ResponseReturnValue:
    form = ConfirmForm(action=action)
    return _no_store(
        render_template(
            "pairing/confirm.html", app=app, action=action, label=service.FIX_LABELS[action], fixes=fixes,
            total=total, form=form, back=back, max_bulk=service.MAX_BULK,
        )
    )


@bp.post("/<slug>/fix")
@admin_required
def apply_fix(slug: str) -> ResponseReturnValue:
    """Apply the confirmed fixes; each is audited, the rows change at once."""
    app = get_app(slug)
    form = ConfirmForm()
    keys = [k[:80] for k in request.form.getlist("key")[: service.MAX_BULK]]
    return _fix_step(
        app, lambda: service.plan_fixes(app, form.action.data or "", keys),
        lambda fixes: _applied(app, service.apply_fixes(app, fixes, actor=_actor())), form=form,
    )


def _applied(app: ConnectedApp, outcome: service.FixOutcome) -> ResponseReturnValue:
    for line in outcome.done[:20]:
        flash(f"Done: {line}", "info")
    if len(outcome.done) > 20:
        flash(f"… and {len(outcome.done) - 20} more done.", "info")
    for line in outcome.failed[:20]:
        flash(f"Not done: {line}", "error")
    if outcome.links:
        return _no_store(render_template("pairing/created_in_hub.html", app=app, created=outcome.links))
    return _back(app.slug)


@bp.get("/<slug>/conflict/<int:group>")
@admin_required
def conflict(slug: str, group: int) -> ResponseReturnValue:
    """The accounts of one conflict side by side, each with a link to where it can be fixed."""
    app = get_app(slug)
    rows = [r for r in service.report(app) if r.status is Status.CONFLICT and r.group == group]
    if not rows:
        flash("This conflict is gone (or the page was out of date).", "info")
        return _back(app.slug)
    return render_template("pairing/conflict.html", app=app, rows=rows, group=group)


@bp.post("/<slug>/provisioning/retry")
@admin_required
def retry_provisioning(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    if not RetryForm().validate_on_submit():
        raise ValidationError(OUT_OF_DATE)
    count = provisioning.retry_failed(app, actor=_actor())
    flash(f"{count} change(s) queued again for {app.name}.", "info")
    return _back(app.slug)


@bp.get("/<slug>.json")
@admin_required
def export_json(slug: str) -> Response:
    app = get_app(slug)
    rows = _export_rows(app)
    body = display.to_json(rows, service.department_index(app))
    return _download(body, "application/json", f"pairing-{app.slug}.json")


@bp.get("/<slug>.csv")
@admin_required
def export_csv(slug: str) -> Response:
    app = get_app(slug)
    rows = _export_rows(app)
    body = display.to_csv(rows, service.department_index(app))
    return _download(body, "text/csv; charset=utf-8", f"pairing-{app.slug}.csv")


def _export_rows(app: ConnectedApp) -> list[PairingRow]:
    """The rows the page shows for the same filter and search (every page of them)."""
    query = request.args.get("q", "")[: display.MAX_QUERY]
    return display.select_rows(service.report(app), display.parse_status(request.args.get("status")), query)


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
    if service.start_background_refresh(app, actor=_actor(), force=True):
        flash(f"Directory saved. Reading {app.name}'s users in the background; this page updates by itself.", "info")
    else:
        flash("Directory saved. Upload a CSV file and refresh to read the users.", "info")
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
        snapshot = service.refresh(app, data=data, actor=_actor())
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

    def created(user: DirectoryUser) -> ResponseReturnValue:
        ref = f" (id {display.visible(user.ref, 40)})" if user.ref else ""
        return _done(
            app,
            f"Created {display.visible(user.login)} ({display.visible(user.email)}) in {app.name}{ref}. "
            "The row below shows it paired now.",
        )

    return _fix_step(
        app, lambda: service.create_in_app(app, key=form.key.data or "", actor=_actor()), created, form=form,
        errors=(ConfigError, SourceError, FixError), failed=f"Not created in {app.name}: ",
    )


@bp.post("/<slug>/create-in-hub")
@admin_required
def create_in_hub(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    form = FixForm()
    return _fix_step(
        app, lambda: service.create_in_hub(app, key=form.key.data or "", actor=_actor()),
        lambda made: _no_store(render_template("pairing/created_in_hub.html", app=app, created=[made])), form=form,
        errors=(FixError, ValidationError), failed="Not created in the hub: ",
    )


@bp.post("/<slug>/department")
@admin_required
def department(slug: str) -> ResponseReturnValue:
    """Without ``confirm``: the confirmation page with the exact change of each fix.
    With ``confirm=1`` and ``side`` (``app`` or ``hub``): make the change."""
    app = get_app(slug)
    form = DepartmentForm()
    # Both branches validate the form (CSRF included) before they use any field.
    if form.confirm.data != "1":
        return _fix_step(
            app, lambda: service.department_change(app, form.key.data or ""),
            lambda change: render_template(
                "pairing/department_confirm.html", app=app, change=change, key=form.key.data or "",
                can_change_app=service.can_provision(app), form=DepartmentForm(formdata=None),
            ),
            form=form,
        )
    where = app.name if form.side.data == "app" else "the hub"

    def changed(change: service.DepartmentChange) -> ResponseReturnValue:
        assert change.row.hub is not None and change.row.app is not None
        return _done(app, f"Departments of {display.visible(change.row.hub.login)} changed in {where}.")

    return _fix_step(
        app, lambda: service.fix_department(app, form.key.data or "", form.side.data or ""), changed, form=form,
        errors=(ConfigError, SourceError, FixError, HubError), failed="Departments not changed: ",
    )
