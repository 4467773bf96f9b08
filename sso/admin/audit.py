"""The audit page: newest first, paged, filter by user and event."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from sqlalchemy import func, select

from sso.base.access import admin_required
from sso.accounts.models import User
from sso.base.identity import normalize_key
from sso.base.db import db
from sso.base.pagination import Page, page_arg
from sso.audit.models import AuditEvent
from sso.audit.service import EVENTS, flush

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


@bp.get("/")
@admin_required
def index():  # type: ignore[no-untyped-def]
    event = request.args.get("event", "")
    user_text = request.args.get("user", "")[:300].strip()
    number = page_arg(request.args.get("page"))
    per_page = int(current_app.config["AUDIT_PER_PAGE"])
    flush()  # this worker's buffered entries (jumps) are in the table before it is read
    stmt = select(AuditEvent)
    if event in EVENTS:
        stmt = stmt.where(AuditEvent.event == event)
    else:
        event = ""
    if user_text:
        key = normalize_key(user_text)
        ids = select(User.id).where((User.login_key == key) | (User.email_key == key))
        stmt = stmt.where((AuditEvent.user_id.in_(ids)) | (AuditEvent.actor == user_text))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(
        stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(per_page).offset((number - 1) * per_page)
    ).all()
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({r.user_id for r in rows if r.user_id})))}
    return render_template(
        "admin/audit.html", rows=rows, users=users, events=EVENTS, event=event, user=user_text,
        page=Page(number, per_page, int(total)),
    )
